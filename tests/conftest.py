"""Shared fixtures: the project root and a way to run its command-line scripts for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(
    script: str, *args: str, cwd: Path | str = ROOT, timeout: float = 120, env: dict | None = None
):
    """Run scripts/<script> with this interpreter; return the CompletedProcess (text)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture
def range_file(tmp_path):
    """Write a range file: range_file("CONFIG_X=1|2", name=...) → its path."""

    def write(text: str, name: str = "test-range") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
