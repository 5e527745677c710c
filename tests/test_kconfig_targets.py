"""The kernel-style Kconfig targets: defconfig, savedefconfig, olddefconfig, menuconfig."""

import os
import pty
import select
import subprocess
import sys
import time

from tests.conftest import ROOT, run_script


def test_savedefconfig_then_defconfig_round_trips(tmp_path):
    (tmp_path / "mine").write_text('CONFIG_MODEL_SELECT_MLP=y\nCONFIG_LEARNING_RATE="3e-4"\nCONFIG_SEED=7\n')
    assert run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path).returncode == 0
    first = (tmp_path / ".config").read_text()
    assert "CONFIG_MODEL_SELECT_MLP=y" in first and 'CONFIG_LEARNING_RATE="3e-4"' in first
    assert run_script("kconfig.py", "savedefconfig", cwd=tmp_path).returncode == 0
    saved = (tmp_path / "defconfig").read_text()
    assert "CONFIG_SEED=7" in saved and "CONFIG_BATCH_SIZE" not in saved  # only non-defaults
    (tmp_path / ".config").unlink()
    assert run_script("kconfig.py", "defconfig", tmp_path / "defconfig", cwd=tmp_path).returncode == 0
    assert (tmp_path / ".config").read_text() == first


def test_defconfig_by_name_and_missing_name(tmp_path):
    assert run_script("kconfig.py", "defconfig", "lenet5-digits", cwd=tmp_path).returncode == 0
    assert "CONFIG_MODEL_SELECT_LENET5=y" in (tmp_path / ".config").read_text()
    result = run_script("kconfig.py", "defconfig", "no-such", cwd=tmp_path)
    assert result.returncode == 1 and "no-such: no such file" in result.stderr


def test_olddefconfig_fills_new_symbols_with_defaults(tmp_path):
    (tmp_path / ".config").write_text("CONFIG_SEED=5\n")
    assert run_script("kconfig.py", "olddefconfig", cwd=tmp_path).returncode == 0
    text = (tmp_path / ".config").read_text()
    assert "CONFIG_SEED=5" in text and "CONFIG_NUM_EPOCHS=5" in text


def test_list_defconfigs_shows_plain_and_range_files():
    out = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "list-defconfigs"], capture_output=True, text=True
    ).stdout
    assert "lenet5-digits " in out and "resnet18-state-pruning-compare-range" in out


def test_make_help_lists_every_target():
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True).stdout
    for target in ("menuconfig", "sweep-generate", "sweep-resume", "sweep-promote", "bench", "test"):
        assert f"  {target} " in out


def _read_until_quiet(fd, seconds=1.0) -> bytes:
    data, deadline = b"", time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data += os.read(fd, 65536)
            except OSError:
                break
            deadline = time.time() + 0.3
    return data


def test_menuconfig_opens_on_a_terminal_and_saves_dot_config(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:  # the child: menuconfig on a pseudo terminal, in tmp_path
        os.chdir(tmp_path)
        os.environ.update(TERM="xterm", LINES="40", COLUMNS="120")
        os.execv(sys.executable, [sys.executable, str(ROOT / "scripts/kconfig.py"), "menuconfig"])
    screen = _read_until_quiet(fd, 5)
    assert b"Model" in screen
    for keys in (b"S", b"\r", b"\r", b"Q"):  # Save, accept the file name, dismiss the note, quit
        os.write(fd, keys)
        _read_until_quiet(fd, 0.8)
    os.waitpid(pid, 0)
    assert "CONFIG_MODEL_SELECT_LENET5=y" in (tmp_path / ".config").read_text()
