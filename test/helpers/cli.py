"""Run a console script's module as its own process: for tests where the command line itself is tested."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -P -m MODULE ARGS...`` (-P: the installed package, not the source tree), output captured."""
    return subprocess.run([sys.executable, "-P", "-m", module, *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))
