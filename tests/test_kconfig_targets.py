"""The kernel-style Kconfig targets: defconfig, savedefconfig, olddefconfig, menuconfig."""

import os
import pty
import select
import subprocess
import sys
import time

import pytest

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


def test_list_defconfigs_shows_whole_first_sentences():
    out = run_script("kconfig.py", "list").stdout
    line = next(line for line in out.splitlines() if "lenet5-digits-optimizers-range" in line)
    assert line.endswith("A choice sweep: SGD against AdamW on LeNet-5/digits.")
    for line in out.splitlines():
        assert line.endswith((".", "…", ":")), line


MISTAKES = (
    "CONFIG_MODEL_SELECT_MLP=y\n"
    'CONFIG_LEARNING_RAT="0.01"\n'
    "CONFIG_NUM_EPOCHS = 3\n"
    "CONFIG_BATCH_SIZE=32 # smaller\n"
    "CONFIG_WEIGHT_DECAY=0.05\n"
)


def test_defconfig_names_every_bad_line_and_keeps_the_old_dot_config(tmp_path):
    (tmp_path / "mine").write_text(MISTAKES)
    (tmp_path / ".config").write_text("CONFIG_SEED=5\n")
    result = run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].endswith(
        "mine:2: CONFIG_LEARNING_RAT: unknown symbol: no Kconfig defines it"
        " (did you mean CONFIG_LEARNING_RATE?)"
    )
    assert lines[1].endswith(
        "mine:3: expected CONFIG_NAME=value, got 'CONFIG_NUM_EPOCHS = 3' (no spaces around =)"
    )
    assert lines[2].startswith("error: ") and "2 problems; nothing written" in lines[2]
    assert (tmp_path / ".config").read_text() == "CONFIG_SEED=5\n"


def test_defconfig_and_trainer_read_unquoted_floats_and_trailing_comments_alike(tmp_path):
    from models.config import load_train_config

    (tmp_path / "mine").write_text("CONFIG_LEARNING_RATE=0.01  # faster\nCONFIG_BATCH_SIZE=32 # smaller\n")
    result = run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / ".config").read_text()
    assert 'CONFIG_LEARNING_RATE="0.01"' in text and "CONFIG_BATCH_SIZE=32" in text
    cfg = load_train_config(tmp_path / "mine")
    assert (cfg.lr, cfg.batch_size) == (0.01, 32)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\ufeffCONFIG_NUM_EPOCHS=3\n", "mine:1: the file starts with a UTF-8 byte-order mark: remove it"),
        ("config_num_epochs=3\n", "(did you mean CONFIG_NUM_EPOCHS? symbols are upper case)"),
        ("CONFIG_NUM_EPOCHS=2.5\n", "mine:1: CONFIG_NUM_EPOCHS: 2.5 is not an integer"),
        (
            "CONFIG_NUM_EPOCHS = 3\n",
            "mine:1: expected CONFIG_NAME=value, got 'CONFIG_NUM_EPOCHS = 3' (no spaces",
        ),
        ("CONFIG_NUM_EPOCHS=3|4\n", "mine:1: CONFIG_NUM_EPOCHS: 2 values in a config file, which takes one"),
        (
            "CONFIG_OPTIMIZER_SELECT_SGD=y\nCONFIG_OPTIMIZER_SELECT_ADAM=y\n",
            "mine:2: CONFIG_OPTIMIZER_SELECT_ADAM: a second member of choice OPTIMIZER",
        ),
    ],
)
def test_defconfig_and_trainer_refuse_a_mistake_with_the_same_message(tmp_path, text, message):
    from models.config import ConfigError, load_train_config

    (tmp_path / "mine").write_text(text, encoding="utf-8")
    result = run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr
    assert not (tmp_path / ".config").exists()
    with pytest.raises(ConfigError) as refused:
        load_train_config(tmp_path / "mine")
    assert message in str(refused.value)


def test_olddefconfig_refuses_a_spaced_line_and_keeps_dot_config(tmp_path):
    (tmp_path / ".config").write_text("CONFIG_SEED=5\nCONFIG_NUM_EPOCHS = 9\n")
    result = run_script("kconfig.py", "olddefconfig", cwd=tmp_path)
    assert result.returncode == 1 and ".config:2: expected CONFIG_NAME=value" in result.stderr
    assert (tmp_path / ".config").read_text() == "CONFIG_SEED=5\nCONFIG_NUM_EPOCHS = 9\n"


def test_value_without_effect_is_one_warning_with_its_line(tmp_path):
    (tmp_path / "mine").write_text("CONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_SGD_MOMENTUM=0.5\n")
    result = run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip().endswith(
        "mine:2: warning: CONFIG_SGD_MOMENTUM has no effect: depends on OPTIMIZER_SELECT_SGD"
    )
    assert "warning: warning" not in result.stderr and result.stderr.count("\n") == 1


def test_menuconfig_without_a_terminal_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/kconfig.py"), "menuconfig"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == "error: make menuconfig needs a terminal (stdin and stdout are not one)\n"


def test_make_help_lists_every_target():
    out = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True).stdout
    makefile = (ROOT / "Makefile").read_text()
    phony = makefile.split(".PHONY:")[1].split("\n\n")[0].replace("\\", " ").split()
    assert len(phony) > 20
    for target in phony:
        assert f"  {target} " in out, target


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


def test_menuconfig_refuses_a_word_as_learning_rate_in_its_dialog(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.environ.update(TERM="xterm", LINES="40", COLUMNS="120", ESCDELAY="25")
        os.execv(sys.executable, [sys.executable, str(ROOT / "scripts/kconfig.py"), "menuconfig"])
    try:
        _read_until_quiet(fd, 5)
        screen = b""
        # jump to LEARNING_RATE, open its value dialog, clear it (Ctrl-U), type fast, Enter
        for keys in (b"/", b"LEARNING_RATE", b"\r", b"\r", b"\x15", b"fast", b"\r"):
            os.write(fd, keys)
            screen = _read_until_quiet(fd, 0.8)
        assert b"fast is not a number" in screen
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert not (tmp_path / ".config").exists()


def test_savedefconfig_keeps_a_generic_knob_generic(tmp_path):
    (tmp_path / "mine").write_text('CONFIG_ADAM_BETA1="0.8"\n')
    assert run_script("kconfig.py", "defconfig", tmp_path / "mine", cwd=tmp_path).returncode == 0
    assert 'CONFIG_ADAMWPRUNE_BETA1="0.8"' in (tmp_path / ".config").read_text()  # the default follows
    assert run_script("kconfig.py", "savedefconfig", cwd=tmp_path).returncode == 0
    saved = (tmp_path / "defconfig").read_text()
    assert 'CONFIG_ADAM_BETA1="0.8"' in saved and "ADAMWPRUNE" not in saved


def _menuconfig_on_a_terminal(cwd, keys: list[bytes]) -> tuple[bytes, int]:
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.environ.update(TERM="xterm", LINES="40", COLUMNS="120", ESCDELAY="25")
        os.execv(sys.executable, [sys.executable, str(ROOT / "scripts/kconfig.py"), "menuconfig"])
    screen = _read_until_quiet(fd, 5)
    for key in keys:
        os.write(fd, key)
        screen += _read_until_quiet(fd, 0.8)
    for _ in range(50):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return screen, os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("menuconfig did not exit")


def test_menuconfig_keeps_an_unquoted_float_it_would_otherwise_drop(tmp_path):
    (tmp_path / ".config").write_text("CONFIG_LEARNING_RATE=0.01\nCONFIG_SEED=7\n")
    _, code = _menuconfig_on_a_terminal(tmp_path, [b"S", b"\r", b"\r", b"Q"])
    assert code == 0
    text = (tmp_path / ".config").read_text()
    assert 'CONFIG_LEARNING_RATE="0.01"' in text and "CONFIG_SEED=7" in text


def test_menuconfig_refuses_a_dot_config_with_lines_it_would_drop(tmp_path):
    (tmp_path / ".config").write_text("CONFIG_SEED=7\nCONFIG_NUM_EPOCHS = 9\n")
    screen, code = _menuconfig_on_a_terminal(tmp_path, [])
    assert code == 1
    assert b".config:2: expected CONFIG_NAME=value" in screen and b"the menu would drop" in screen
    assert (tmp_path / ".config").read_text() == "CONFIG_SEED=7\nCONFIG_NUM_EPOCHS = 9\n"


def test_a_range_file_is_known_by_what_it_sweeps_not_by_its_name(tmp_path):
    from ksweep.config.defconfigs import is_range_file

    (tmp_path / "qa-six").write_text("CONFIG_LEARNING_RATE=1e-3|2e-3\n")
    (tmp_path / "my-range").write_text("CONFIG_LEARNING_RATE=1e-3\n")
    (tmp_path / "stepped").write_text("# a comment | with a bar\nCONFIG_WEIGHT_DECAY=0.03:0.02:0.09\n")
    assert is_range_file(tmp_path / "qa-six") and is_range_file(tmp_path / "stepped")
    assert not is_range_file(tmp_path / "my-range")
