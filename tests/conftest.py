"""Shared fixtures: the project root, a way to run its command-line scripts for real, and a
real single-node Slurm for the session (`slurm`; skipped, with the reason, where it cannot start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
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


def run_ksweep(
    *args: str, cwd: Path | str = ROOT, timeout: float = 120, env: dict | None = None, code: str = ""
):
    """The `ksweep` command of this checkout (`python -m ksweep ARGS`, as the Makefile runs it),
    from any folder; `code` runs first in the same interpreter (to block an import, say)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    prelude = f"{code}; " if code else ""
    command = [
        sys.executable,
        "-c",
        f"import sys; {prelude}from ksweep.cli.main import main; sys.exit(main())",
    ]
    return subprocess.run(
        [*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


def run_make(*args, timeout: float = 300, env: dict | None = None):
    """`make -s -C <project> ARGS...` as a user types it; the CompletedProcess (text)."""
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def range_file(tmp_path):
    """Write a range file: range_file("CONFIG_X=1|2", name=...) → its path."""

    def write(text: str, name: str = "test-range") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


TINY = f"{sys.executable} {ROOT / 'tests/data/tiny_trainer.py'}"


@pytest.fixture
def sweep(tmp_path):
    """sweep(seeds) → generates sweep_configs for CONFIG_SEED=seeds in tmp_path; returns helpers."""

    class Sweep:
        configs = tmp_path / "sweep_configs"
        results = tmp_path / "results"

        def generate(self, seeds: str, extra: str = ""):
            (tmp_path / "range").write_text(f"CONFIG_SEED={seeds}\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n{extra}")
            result = run_script("generate_config_combinations.py", tmp_path / "range", self.configs)
            assert result.returncode == 0, result.stderr

        def args(self, *extra):
            return [
                "--config-dir",
                self.configs,
                "--output-dir",
                self.results,
                "--train-command",
                TINY,
                *extra,
            ]

        def run(self, *extra, env=None, timeout=120):
            return run_script(
                "run_test_matrix.py", *self.args(*extra), cwd=tmp_path, env=env, timeout=timeout
            )

        def popen(self, *extra, env=None):
            cmd = [sys.executable, str(ROOT / "scripts/run_test_matrix.py"), *map(str, self.args(*extra))]
            return subprocess.Popen(
                cmd,
                cwd=tmp_path,
                env={**os.environ, **(env or {})},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

        def dirs(self):
            return sorted(self.results.glob("sweep_*"))

        def statuses(self, sweep_dir=None):
            sweep_dir = sweep_dir or self.dirs()[-1]
            out = {}
            for run in sorted(p for p in sweep_dir.iterdir() if p.name.startswith("config_")):
                metrics = json.loads((run / "training_metrics.json").read_text())
                out[run.name.split("_")[1]] = metrics["status"]
            return out

    return Sweep()


def pytest_collection_modifyitems(items):
    """A test using a real cluster is marked for it (`ray`, `slurm`): make test leaves it to make test-all."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"ray_cluster", "ray_session"}:
            item.add_marker(pytest.mark.ray)
        if "slurm" in names:
            item.add_marker(pytest.mark.slurm)


def wait_for(predicate, seconds=30.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture(scope="session")
def slurm():
    """A real Slurm (scripts/local_slurm.sh), started once for the session: a SlurmCluster."""
    from tests.slurm_cluster import SlurmUnavailable, local_slurm

    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(local_slurm())
        except SlurmUnavailable as err:
            pytest.skip(f"no local Slurm: {err}")
        yield cluster


@pytest.fixture(scope="session")
def ray_session():
    """A real two-node Ray on 127.0.0.1 (tests/ray_cluster.py), started once for the session."""
    from tests.ray_cluster import RayUnavailable, local_ray

    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(local_ray(nodes=2))
        except RayUnavailable as err:
            pytest.skip(f"no local Ray cluster: {err}")
        yield cluster


@pytest.fixture
def ray_cluster(ray_session):
    """The session's Ray cluster with both its nodes alive (a test may have killed one)."""
    ray_session.keep_alive(2)
    return ray_session
