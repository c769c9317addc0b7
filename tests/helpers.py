"""Helpers shared by tests: run the real CLI in a subprocess of this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m camsweep ARGS`` from this checkout (not whatever is installed)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "camsweep", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
