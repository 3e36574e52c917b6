# Source this file: the environment the ROS 2 wheels and our colcon install need.
# (Used by the Makefile; on a ROS 2 distribution, source /opt/ros/<distro>/setup.bash
# and install/setup.bash instead.)
_kpf_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export VIRTUAL_ENV=${KPF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kpfusion_ros/venv}
export PATH="$VIRTUAL_ENV/bin:$PATH"
_kpf_sp=$("$VIRTUAL_ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
_kpf_install=${KPF_INSTALL:-${KPF_WS:-$_kpf_root/build/colcon}/install}
_kpf_libs="$VIRTUAL_ENV/lib"
for d in "$_kpf_sp"/ros_*.libs; do [ -d "$d" ] && _kpf_libs="$_kpf_libs:$d"; done
# libraries and prefixes of every package in our colcon install (the package itself and stand-ins)
_kpf_pfx=""
if [ -d "$_kpf_install" ]; then
  for p in "$_kpf_install"/*/; do
    p=${p%/}
    [ -d "$p/share/ament_index" ] || continue
    _kpf_pfx="$p:$_kpf_pfx"
    [ -d "$p/lib" ] && _kpf_libs="$p/lib:$_kpf_libs"
    for s in "$p"/lib/python3*/site-packages; do [ -d "$s" ] && PYTHONPATH="$s:${PYTHONPATH:-}"; done
  done
fi
export PYTHONPATH="${PYTHONPATH:-}"
export LD_LIBRARY_PATH="$_kpf_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$_kpf_pfx$VIRTUAL_ENV"
export CMAKE_PREFIX_PATH="$_kpf_pfx$VIRTUAL_ENV"
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export PYTHONDONTWRITEBYTECODE=1
unset _kpf_root _kpf_sp _kpf_install _kpf_libs _kpf_pfx p s d
