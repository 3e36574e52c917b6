#!/usr/bin/env bash
# colcon build of this package (and, where the real ROS packages are missing, of
# the stand-ins under stand_ins/) into build/colcon/install. Incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/env.sh
WS=${KPF_WS:-$ROOT/build/colcon}
export KPF_INSTALL=$WS/install
mkdir -p "$WS"
paths=("$ROOT")
# A stand-in is built only where its real package cannot be imported.
if [ -d stand_ins ]; then
  for pkg in stand_ins/*/; do
    pkg=${pkg%/}; name=$(basename "$pkg")
    [ -f "$pkg/package.xml" ] || continue
    # probe without any of our own workspaces on the path (they may hold a stand-in)
    clean_pp=$(printf '%s' "${PYTHONPATH:-}" | tr ':' '\n' | { grep -v "^$ROOT/build/" || true; } | paste -sd: -)
    if PYTHONPATH="$clean_pp" KPF_INSTALL=/nonexistent bash -c "source scripts/env.sh; cd /; python -c 'import $name'" >/dev/null 2>&1; then
      echo "[build] real $name found: stand-in not built"
    else
      paths+=("$ROOT/$pkg")
    fi
  done
fi
cd "$WS"
colcon --log-base log build --paths "${paths[@]}" --build-base build --install-base install \
  --event-handlers console_direct- > "$WS/last_build.log" 2>&1 || { tail -50 "$WS/last_build.log"; echo "[build] colcon build failed (full log: $WS/last_build.log)"; exit 1; }
grep -E "^(Summary|Finished|Failed)" "$WS/last_build.log" | tail -3
