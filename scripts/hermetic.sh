#!/usr/bin/env bash
# Run a command inside a private network namespace (no traffic can leave this
# machine): `unshare -rn`, loopback up, DDS discovery limited to localhost and a
# ROS_DOMAIN_ID of the run's own. Every process of ours that starts DDS on these
# machines (tests, demo) runs through here.
set -euo pipefail
if [ "${KPF_IN_NETNS:-0}" = "1" ]; then exec "$@"; fi
export KPF_IN_NETNS=1
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Whole images through shared memory: with Fast DDS's default 512 KiB segment, 640x480
# frames go over UDP in fragments and best-effort subscribers lose them all.
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$(cd "$(dirname "$0")/.." && pwd)/config/fastdds_local_large.xml}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}
exec unshare -rn bash -c 'ip link set lo up && exec "$@"' bash "$@"
