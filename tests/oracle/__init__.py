"""The PyTorch oracle: run example programs under real torch, in one batched process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).parent / "runner.py"


def run_under_torch(programs: list[str]) -> list[dict]:
    """What each program printed or raised (see runner.py), in order."""
    proc = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=json.dumps(programs),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(programs)
    return results
