"""Training scripts as they are: TRAIN_COMMAND placeholders and LOG_METRICS (issue 26, point 5).

The script swept here, tests/data/argparse_trainer.py, knows nothing of ksweep: it takes
argparse flags and prints what PyTorch's MNIST example prints."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from ksweep.launchers.command import CommandError, check_train_command, run_argv
from ksweep.run.logmetrics import LogMetricsError, parse_spec, read_output
from tests.conftest import ROOT, run_script

PY = shlex.quote(sys.executable)  # a program on PATH or not, it exists
SCRIPT = f"{PY} {ROOT / 'tests/data/argparse_trainer.py'}"
MNIST = "--lr {LEARNING_RATE} --batch-size {BATCH_SIZE} --epochs {NUM_EPOCHS}"
LOG_METRICS = r"val_acc=Accuracy: \d+/\d+ \((\d+)%\);val_loss=Average loss: ([\d.]+)"
SYMBOLS = ("LEARNING_RATE", "BATCH_SIZE", "NUM_EPOCHS", "DATA_DIR", "SGD_NESTEROV")


@pytest.fixture
def mnist(tmp_path):
    """generate(range text) then run(*flags): the argparse script swept through the runner."""

    class Mnist:
        configs = tmp_path / "sweep_configs"
        results = tmp_path / "results"

        def generate(self, text: str):
            (tmp_path / "range").write_text(text)
            done = run_script("generate_config_combinations.py", tmp_path / "range", self.configs)
            assert done.returncode == 0, done.stderr

        def run(self, *extra, command: str = f"{SCRIPT} {MNIST}", log_metrics: str | None = LOG_METRICS):
            flags = ["--config-dir", self.configs, "--output-dir", self.results, "--train-command", command]
            flags += ["--log-metrics", log_metrics] if log_metrics is not None else []
            return run_script("run_test_matrix.py", *flags, "--no-progress", *extra, cwd=tmp_path)

        def sweep_dir(self) -> Path:
            (found,) = sorted(self.results.glob("sweep_*"))
            return found

        def record(self, number: int) -> dict:
            (run,) = self.sweep_dir().glob(f"config_{number:03d}_*")
            return json.loads((run / "training_metrics.json").read_text())

        def nothing_made(self) -> bool:
            return not self.results.exists() or not list(self.results.iterdir())

    return Mnist()


# --- the pure core: a run's argv, a LOG_METRICS spec, a log read -----------------------


def test_a_command_without_placeholders_gets_the_trainer_contracts_two_arguments():
    assert run_argv(["python", "t.py"], "/r/config.txt", "/r") == [
        "python",
        "t.py",
        "--config",
        "/r/config.txt",
        "--output-dir",
        "/r",
    ]


def test_placeholders_take_the_configs_values_and_nothing_is_appended(tmp_path):
    config = tmp_path / "config.txt"
    config.write_text('CONFIG_LEARNING_RATE="3e-4"\nCONFIG_BATCH_SIZE=32\n# CONFIG_SGD_NESTEROV is not set\n')
    command = shlex.split("python t.py --lr={LEARNING_RATE} --bs {CONFIG_BATCH_SIZE} -n {SGD_NESTEROV}")
    argv = run_argv([*command, "--out", "{output_dir}", "--cfg", "{config}"], str(config), "/r")
    assert argv == [
        "python",
        "t.py",
        "--lr=3e-4",
        "--bs",
        "32",
        "-n",
        "n",
        "--out",
        "/r",
        "--cfg",
        str(config),
    ]


def test_a_value_with_a_space_or_semicolon_stays_one_argument(tmp_path):
    config = tmp_path / "config.txt"
    config.write_text("CONFIG_DATA_DIR=\"my data; rm -rf x 'q'\"\n")
    argv = run_argv(shlex.split("python t.py --data {DATA_DIR} --tag=a{DATA_DIR}b"), str(config), "/r")
    assert argv == ["python", "t.py", "--data", "my data; rm -rf x 'q'", "--tag=amy data; rm -rf x 'q'b"]


def test_a_symbol_the_config_does_not_set_is_an_empty_argument_and_doubled_braces_are_literal(tmp_path):
    config = tmp_path / "config.txt"
    config.write_text("CONFIG_BATCH_SIZE=32\n")
    argv = run_argv(["t", "--m", "{SGD_MOMENTUM}", "--json={{{BATCH_SIZE}}}"], str(config), "/r")
    assert argv == ["t", "--m", "", "--json={32}"]


@pytest.mark.parametrize(
    "command, message",
    [
        (f"{PY} t.py --lr {{LEARNIG_RATE}}", "TRAIN_COMMAND: {LEARNIG_RATE} names no Kconfig symbol"),
        (f"{PY} t.py --lr {{CONFIG_LEARNIG_RATE}}", "(did you mean {CONFIG_LEARNING_RATE}?)"),
        (f"{PY} t.py --out {{OUTPUT_DIR}}", "names no Kconfig symbol (did you mean {output_dir}?)"),
        (f"{PY} t.py --lr {{LEARNING_RATE", "has a { without its } (write {{ or }} for a literal brace)"),
        (f"{PY} t.py --lr LEARNING_RATE}}", "has a } without its {"),
        (f"{PY} t.py --x {{}}", "{} is no placeholder"),
    ],
)  # fmt: skip
def test_a_bad_placeholder_is_refused_in_one_line(command, message):
    with pytest.raises(CommandError) as refused:
        check_train_command(command, symbols=lambda: SYMBOLS)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_the_symbols_are_the_kconfigs_in_use():
    assert check_train_command(f"{PY} t.py --lr {{LEARNING_RATE}} --o {{output_dir}}")[-1] == "{output_dir}"
    with pytest.raises(CommandError, match="did you mean"):
        check_train_command(f"{PY} t.py --lr {{LERNING_RATE}}")


def test_each_match_is_the_next_epoch_and_the_last_is_final_as_printed():
    spec = parse_spec(LOG_METRICS)
    text = (
        "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.301000\n"
        "\nTest set: Average loss: 0.0890, Accuracy: 9705/10000 (97%)\n"
        "\nTest set: Average loss: 0.0457, Accuracy: 9851/10000 (99%)\n"
    )
    record, missing, problem = read_output(spec, text)
    assert record["epochs"] == [
        {"epoch": 1, "val_acc": 97.0, "val_loss": 0.089},
        {"epoch": 2, "val_acc": 99.0, "val_loss": 0.0457},
    ]
    assert record["final"] == {"val_acc": 99.0, "val_loss": 0.0457} and not missing and problem is None


def test_a_group_that_captures_the_percent_sign_is_still_a_percentage():
    (metric,) = parse_spec(r"val_acc=\((\d+%)\)")
    assert read_output([metric], "Accuracy: 9851/10000 (99%)")[0]["final"] == {"val_acc": 99.0}


def test_a_semicolon_inside_a_regex_does_not_split_the_spec():
    spec = parse_spec(r"val_acc=acc;? ([\d.]+);val_loss=loss[^;]*?([\d.]+)")
    assert [m.name for m in spec] == ["val_acc", "val_loss"]
    assert read_output(spec, "acc; 97.5 loss: 0.3")[0]["final"] == {"val_acc": 97.5, "val_loss": 0.3}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("val_acc", "LOG_METRICS: 'val_acc' is not name=REGEX"),
        (r"val_acc=(\d+", "LOG_METRICS: val_acc=(\\d+ does not compile: missing ), unterminated subpattern"),
        (r"val_acc=\d+", "has no group; it needs exactly one"),
        (r"val_acc=(\d+)/(\d+)", "has 2 groups; it needs exactly one"),
        (r"val_acc=(\d+);val_acc=(\d+)%", "val_acc is given twice"),
        (r"Val Acc=(\d+)", "is no metric name"),
    ],
)
def test_a_bad_log_metrics_spec_is_refused_in_one_line(spec, message):
    with pytest.raises(LogMetricsError) as refused:
        parse_spec(spec)
    assert message in str(refused.value) and "\n" not in str(refused.value)


# --- through the runner ------------------------------------------------------------------


@pytest.mark.slow
def test_an_unmodified_argparse_script_is_swept_over_two_flags_and_ranked_by_what_it_prints(mnist):
    mnist.generate("CONFIG_LEARNING_RATE=0.1|1.0|50\nCONFIG_BATCH_SIZE=32|64\nCONFIG_NUM_EPOCHS=2\n")
    done = mnist.run()
    assert done.returncode == 0, done.stderr
    # lr 50 "diverges": the script prints no test line and exits 0; the sweep goes on.
    for failed in ("config_005", "config_006"):
        line = next(x for x in done.stdout.splitlines() if failed in x)
        assert "FAILED" in line and "LOG_METRICS: no match for val_acc, val_loss (last lines: " in line
        assert "loss is nan, stopping" in line
    analysis = (mnist.sweep_dir() / "sweep_analysis.txt").read_text()
    top = analysis.split("TOP 10 CONFIGURATIONS:")[1].split("PARAMETER EFFECTS:")[0]
    ranked = [line.split()[:3] for line in top.splitlines() if line.strip()[:1].isdigit()]
    assert ranked == [
        ["1", "config_004", "95.00"],  # lr 1.0, batch 64: the script's best
        ["2", "config_003", "93.00"],
        ["3", "config_002", "89.00"],
        ["4", "config_001", "87.00"],
    ]
    assert "Config file: config_004" in analysis and "LOG_METRICS: no match for val_acc" in analysis
    record = mnist.record(4)
    assert record["status"] == "completed" and record["runner"]["metrics_from"] == "log"
    assert record["epochs"] == [
        {"epoch": 1, "val_acc": 91.0, "val_loss": 0.155},
        {"epoch": 2, "val_acc": 95.0, "val_loss": 0.095},
    ]
    assert record["final"] == {"val_acc": 95.0, "val_loss": 0.095}
    summary = json.loads((mnist.sweep_dir() / "sweep_summary.json").read_text())
    best = next(r for r in summary if r["config_file"] == "config_004")
    assert best["val_acc"] == 95.0 and best["epochs"] == 2 and best["CONFIG_LEARNING_RATE"] == 1.0
    reproduce = analysis.split("Reproduce:")[1].splitlines()[1]
    assert reproduce.endswith("argparse_trainer.py --lr 1.0 --batch-size 64 --epochs 2")


@pytest.mark.slow
def test_a_value_with_a_space_and_a_semicolon_reaches_the_script_as_one_argument(mnist):
    mnist.generate('CONFIG_DATASET_SELECT_MNIST=y\nCONFIG_DATA_DIR="my data; echo x"|"plain"\n')
    done = mnist.run(command=f"{SCRIPT} --epochs 1 --data-dir {{DATA_DIR}}")
    assert done.returncode == 0, done.stderr
    logs = sorted(mnist.sweep_dir().glob("config_*/output.log"))
    assert [log.read_text().splitlines()[0] for log in logs] == ["Data: my data; echo x", "Data: plain"]
    assert all(mnist.record(n)["status"] == "completed" for n in (1, 2))


@pytest.mark.slow
def test_a_placeholder_symbol_some_configs_do_not_set_is_said_before_the_sweep(mnist):
    mnist.generate(
        "CONFIG_OPTIMIZER_SELECT_SGD=y|n\nCONFIG_OPTIMIZER_SELECT_ADAMW=y|n\nCONFIG_SGD_MOMENTUM=0.5\n"
    )
    done = mnist.run(command=f"{SCRIPT} --epochs 1 --data-dir={{SGD_MOMENTUM}}")
    assert "NOTE    TRAIN_COMMAND: CONFIG_SGD_MOMENTUM is not set in 1 of 2 configs" in done.stdout
    logs = {
        log.parent.name: log.read_text().splitlines()[0] for log in mnist.sweep_dir().glob("*/output.log")
    }
    assert sorted(logs.values()) == ["Data: ", "Data: 0.5"]


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"command": f"{SCRIPT} --lr {{LEARNIG_RATE}}"}, "(did you mean {LEARNING_RATE}?)"),
        ({"command": f"{SCRIPT} --lr {{LEARNING_RATE"}, "a { without its }"),
        ({"log_metrics": r"val_acc=Accuracy: (\d+"}, "does not compile: missing )"),
        ({"log_metrics": r"val_acc=Accuracy: \d+"}, "has no group"),
        ({"log_metrics": "val_acc"}, "is not name=REGEX"),
        ({"log_metrics": r"val_loss=loss: ([\d.]+)"}, "val_acc is not among LOG_METRICS' names"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_no_sweep_folder(mnist, flags, message):
    mnist.generate("CONFIG_LEARNING_RATE=0.1|1.0\n")
    done = mnist.run(**flags)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and mnist.nothing_made()


def test_log_metrics_with_the_builtin_trainer_or_a_pruner_is_refused_before_anything(mnist):
    mnist.generate("CONFIG_LEARNING_RATE=0.1|1.0\n")
    flags = ["--config-dir", mnist.configs, "--output-dir", mnist.results, "--log-metrics", LOG_METRICS]
    builtin = run_script("run_test_matrix.py", *flags)
    assert (
        builtin.returncode == 2
        and "the built-in trainer writes its own training_metrics.json" in builtin.stderr
    )
    pruned = mnist.run("--pruner", "asha")
    assert pruned.returncode == 2 and "PRUNER=asha judges a run epoch by epoch" in pruned.stderr
    assert mnist.nothing_made()


@pytest.mark.slow
def test_beside_a_trainer_that_writes_its_own_record_the_record_wins_said_once(mnist):
    mnist.generate("CONFIG_SEED=1|2\nCONFIG_OPTIMIZER_SELECT_ADAMW=y\n")
    tiny = f"{sys.executable} {ROOT / 'tests/data/tiny_trainer.py'}"
    done = mnist.run(command=tiny, log_metrics=r"val_acc=seed (\d+)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("the trainer's record wins") == 1
    assert (
        mnist.record(1)["final"]["val_acc"] == 90.1 and mnist.record(1)["runner"]["metrics_from"] == "trainer"
    )


@pytest.mark.slow
def test_log_metrics_is_kept_for_resume(mnist):
    mnist.generate("CONFIG_LEARNING_RATE=0.1|1.0\nCONFIG_NUM_EPOCHS=1\n")
    first = mnist.run()
    assert first.returncode == 0, first.stderr
    manifest = json.loads((mnist.sweep_dir() / "sweep.json").read_text())
    assert manifest["options"]["log_metrics"] == LOG_METRICS
    for run in mnist.sweep_dir().glob("config_002_*"):
        (run / "training_metrics.json").unlink()  # as if the runner had been killed before it settled
    again = run_script("run_test_matrix.py", "--resume", "--output-dir", mnist.results, "--no-progress")
    assert again.returncode == 0 and "1 to do" in again.stdout, again.stderr
    assert mnist.record(2)["status"] == "completed" and mnist.record(2)["runner"]["metrics_from"] == "log"
