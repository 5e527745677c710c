"""ksweep as a package: the wheel maps the repository in (no top-level `models`; the Kconfig,
defconfigs/ and the built-in trainer inside), its dependencies are the pinned requirements',
and installed in a fresh environment it sweeps digits from an empty folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the repository's files (tracked and new, not ignored): builds leave build/ there."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    return source


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    """The wheel `pip wheel` builds from the repository's files."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("ksweep-*.whl")
    return found


def test_the_wheel_maps_the_repository_in_under_ksweep_names(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"ksweep", "ksweep_trainer"}  # no `models`, `scripts`, `tests` in site-packages
    assert "ksweep_trainer/train.py" in names and "ksweep_trainer/config.py" in names
    assert "ksweep/cli/main.py" in names and "ksweep/__main__.py" in names
    builtin = {name.removeprefix("ksweep/_builtin/") for name in names if name.startswith("ksweep/_builtin/")}
    kconfigs = {p.name for p in ROOT.glob("Kconfig*")}
    defconfigs = {f"defconfigs/{p.name}" for p in (ROOT / "defconfigs").iterdir()}
    assert builtin == kconfigs | defconfigs  # the data only: no module of the repository's root
    dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(dist_info).decode()
    assert re.search(r"^ksweep = ksweep\.cli\.main:main$", entry_points, re.M)


def test_the_wheel_declares_the_core_and_each_extra(wheel):
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.M))
    assert extras == {"ray", "slurm", "search", "tracking", "all"}
    core = {Requirement(line).name for line in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)
            if "extra ==" not in line}  # fmt: skip
    assert {"torch", "torchvision", "kconfiglib", "pandas", "scikit-learn", "scipy"} <= core
    assert not core & {"ray", "optuna", "mlflow", "wandb", "pytest", "ruff"}


def test_every_package_of_the_repository_is_listed_for_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ksweep").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject's [tool.setuptools] packages: {sorted(found - listed)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["ksweep_trainer"] == "models"


def pinned(path: Path) -> dict[str, Requirement]:
    """The requirements a requirements file pins itself (its own lines, not the files it includes)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {Requirement(line).name: Requirement(line) for line in lines if line and not line.startswith("-")}


EXTRAS = ("ray", "slurm", "search", "tracking")


@pytest.mark.parametrize(
    "extra, path", [("", "requirements.txt")] + [(e, f"requirements-{e}.txt") for e in EXTRAS]
)
def test_the_pinned_requirements_are_what_pyproject_declares(extra, path):
    declared = PROJECT["optional-dependencies"][extra] if extra else PROJECT["dependencies"]
    declared = {Requirement(line).name: Requirement(line) for line in declared}
    pins = pinned(ROOT / path)
    assert set(pins) == set(declared), f"{path} and pyproject.toml name other packages"
    for name, pin in pins.items():
        (version,) = [spec.version for spec in pin.specifier]
        assert declared[name].specifier.contains(version), (
            f"{path} pins {name}=={version} outside {declared[name]}"
        )


def test_make_sweep_installs_the_core_alone_and_make_test_the_rest():
    makefile = (ROOT / "Makefile").read_text()
    core = re.search(r"^\$\(STAMP\): (.+)$", makefile, re.M).group(1)
    assert core.split() == ["requirements.txt"]
    assert re.search(r"^sweep: \$\(STAMP\) ", makefile, re.M)
    assert re.search(r"^test: \$\(DEV_STAMP\) ", makefile, re.M)
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert all(f"-r requirements-{e}.txt" in dev for e in EXTRAS)


def fresh_venv(where: Path) -> tuple[Path, list[str]]:
    """A venv whose dependencies are this interpreter's (installed already): its python, and
    the pip that installs into it."""
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([python, "-c", purelib], text=True).strip())
    (site / "reuse.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, [sys.executable, "-m", "pip", "--python", str(python)]


def test_an_editable_install_runs_the_clones_trainer_from_any_folder(source, tmp_path):
    python, pip = fresh_venv(tmp_path / "venv")
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KSWEEP_KCONFIG")}
    result = subprocess.run(
        [tmp_path / "venv/bin/ksweep", "generate", "lenet5-digits-optimizers-range"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # the trainer's checks ran: models/ found beside ksweep/
    assert "4 configs from 6 combinations, 2 folded" in result.stdout


@pytest.mark.slow
def test_installed_in_a_fresh_environment_ksweep_sweeps_digits_from_an_empty_folder(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    python, pip = fresh_venv(env_dir)  # only ksweep itself is new: its dependencies are this one's
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KSWEEP_KCONFIG")}

    def ksweep(*args, code=None):
        command = [python, "-c", code, *args] if code else [env_dir / "bin" / "ksweep", *args]
        return subprocess.run(command, cwd=empty, capture_output=True, text=True, timeout=600, env=env)

    assert ksweep("--version").stdout == "ksweep 0.1.0\n"
    no_models = ksweep(code="import models")
    assert no_models.returncode == 1 and "No module named 'models'" in no_models.stderr
    blocked = "import sys; sys.modules['ray'] = None; from ksweep.cli.main import main; sys.exit(main())"
    ray = ksweep("sweep", "--backend", "ray", code=blocked)
    assert ray.returncode == 2 and ray.stderr == "error: BACKEND=ray needs Ray: pip install 'ksweep[ray]'\n"
    assert list(empty.iterdir()) == []

    swept = ksweep("sweep", "--epochs", "1", "--jobs", "2", "--no-progress")
    assert swept.returncode == 0, swept.stdout[-2000:] + swept.stderr[-2000:]
    assert "BEST    BATCH_SIZE=" in swept.stdout and "mean of 3 seeds" in swept.stdout
    (sweep_dir,) = (empty / "test_matrix_results").glob("sweep_*")
    analysis = (sweep_dir / "sweep_analysis.txt").read_text()
    assert "BEST CONFIGURATION:" in analysis and "-m ksweep_trainer.train --config" in analysis
    assert "Train the best runs longer: ksweep promote --sweep " in analysis and "make " not in analysis
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    assert len(summary) == 36 and all(r["status"] == "completed" for r in summary)
    assert (empty / "sweep_configs" / "config_012").is_file()
