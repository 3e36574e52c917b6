#!/usr/bin/env bash
# Run a command inside a private network namespace (no traffic can leave this
# machine): `unshare -rn`, loopback up, DDS discovery limited to localhost and a
# ROS_DOMAIN_ID of the run's own. Every process of ours that starts DDS on these
# machines (tests, demo) runs through here.
# The run also gets its own /dev/shm (a private mount namespace with a fresh tmpfs): Fast DDS's
# shared-memory segments (32 MiB each with our profile) of processes that are killed, as tests
# kill nodes, are never removed, and on the host /dev/shm they had piled up to 12 GB of RAM in a
# day of test runs. The private tmpfs goes away with the run, and concurrent runs cannot see each
# other's segments. Where mounting is not allowed the run goes on with the host's /dev/shm.
set -euo pipefail
if [ "${KPF_IN_NETNS:-0}" = "1" ]; then exec "$@"; fi
export KPF_IN_NETNS=1
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Whole images through shared memory: with Fast DDS's default 512 KiB segment, 640x480
# frames go over UDP in fragments and best-effort subscribers lose them all.
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$(cd "$(dirname "$0")/.." && pwd)/config/fastdds_local_large.xml}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}
exec unshare -rn --mount bash -c '
if ! mount -t tmpfs -o mode=1777 kpf_shm /dev/shm 2>/dev/null; then
  echo "[hermetic] could not mount a private /dev/shm; using the host one (DDS segments of killed processes stay there)" >&2
fi
ip link set lo up && exec "$@"' bash "$@"
