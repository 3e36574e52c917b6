#!/usr/bin/env bash
# Run the whole test suite against the colcon install, inside a private network
# namespace (scripts/hermetic.sh). pytest's "no tests collected" (exit 5) fails.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# `pytest` (not `python -m pytest`) so that the source tree does not shadow the install.
scripts/hermetic.sh pytest -p no:cacheprovider "$@" test
rc=$?
if [ $rc -eq 5 ]; then echo "[test] pytest collected no tests: failing"; exit 1; fi
exit $rc
