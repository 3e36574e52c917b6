#!/usr/bin/env bash
# Run a command inside a private network namespace (no traffic can leave this
# machine): `unshare -rn`, loopback up, DDS discovery limited to localhost and a
# ROS_DOMAIN_ID of the run's own. Every process of ours that starts DDS on these
# machines (tests, demo) runs through here.
set -euo pipefail
if [ "${KPF_IN_NETNS:-0}" = "1" ]; then exec "$@"; fi
export KPF_IN_NETNS=1
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}
exec unshare -rn bash -c 'ip link set lo up && exec "$@"' bash "$@"
