"""TRACKER=mlflow,tensorboard,wandb,trackio, live and `export_sweep.py`, read back with each
library's own reader (W&B's offline run file with wandb's own protobuf schema: wandb 0.31
has no Python reader of it, tests/wandb_records.py)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import run_script

# End to end through the commands, or real training: make test-all (not make test).
pytestmark = pytest.mark.slow

mlflow = pytest.importorskip("mlflow")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

SEEDS = "30|31|15|32"  # seed 15: the tiny trainer exits 3 without a record (a failed run)
EPOCHS = {"TINY_EPOCHS": "3"}


def client_for(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def children(client, parent_id):
    experiment = client.get_experiment_by_name("ksweep").experiment_id
    return client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")


def parents(client):
    experiment = client.get_experiment_by_name("ksweep").experiment_id
    return client.search_runs([experiment], filter_string="tags.ksweep_role = 'sweep'")


def export(sweep, tracker, env):
    result = run_script("export_sweep.py", "--results-dir", sweep.results, "--tracker", tracker, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_mlflow_by_default_keeps_its_store_and_artifacts_beside_the_sweeps(sweep):
    sweep.generate("30|31")
    result = sweep.run("--tracker", "mlflow", "--no-progress", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 0, result.stderr
    client = client_for(f"sqlite:///{sweep.results / 'mlflow.db'}")
    (parent,) = parents(client)
    (child, _) = children(client, parent.info.run_id)
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"config.txt", "output.log"}
    assert list((sweep.results / "mlflow-artifacts").rglob("config.txt"))
    assert not (sweep.configs.parent / "mlruns").exists()  # not in whatever directory the runner ran in


def test_mlflow_has_a_parent_per_sweep_and_a_child_per_run_with_params_history_and_status(sweep, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**EPOCHS, "MLFLOW_TRACKING_URI": uri}
    sweep.generate(SEEDS)
    result = sweep.run("--tracker", "mlflow", "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    client = client_for(uri)
    (parent,) = parents(client)
    assert parent.info.run_name == sweep.dirs()[0].name
    runs = {run.info.run_name: run for run in children(client, parent.info.run_id)}
    assert len(runs) == 4
    good = runs["config_001_lenet5_adamw"]
    assert good.info.status == "FINISHED" and good.data.params["CONFIG_SEED"] == "30"
    history = client.get_metric_history(good.info.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 91.0), (2, 92.0), (3, 93.0)]
    assert good.data.metrics["final_val_acc"] == 93.0 and good.data.tags["status"] == "completed"
    assert good.data.metrics["final_peak_rss_mb"] > 0  # the runner's telemetry goes along
    failed = runs["config_003_lenet5_adamw"]
    assert failed.info.status == "FAILED" and failed.data.tags["error"] == "exited with code 3"
    artifacts = {a.path for a in client.list_artifacts(good.info.run_id)}
    assert {"config.txt", "output.log", "training_metrics.json"} <= artifacts
    assert list((tmp_path / "mlflow-artifacts").rglob("config.txt"))  # beside the store, not ./mlruns
    (parent,) = parents(client)  # the sweep's own run shows what a list of sweeps needs
    finals = [r.data.metrics["final_val_acc"] for r in runs.values() if r.data.tags["status"] == "completed"]
    assert parent.data.metrics["runs"] == 4 and parent.data.metrics["completed"] == len(finals)
    assert parent.data.metrics["best_val_acc"] == max(finals)
    # After live logging, exporting twice leaves one child per run, and says so.
    export(sweep, "mlflow", env)
    again = export(sweep, "mlflow", env)
    assert "0 new runs to mlflow (4 already there, replaced: no duplicates)" in again.stdout
    (parent_again,) = parents(client)
    assert parent_again.info.run_id == parent.info.run_id
    assert sorted(r.info.run_name for r in children(client, parent.info.run_id)) == sorted(runs)


def test_tensorboard_has_scalars_per_epoch_and_an_hparams_entry_per_run(sweep):
    from tensorboard.plugins.hparams import plugin_data_pb2

    sweep.generate(SEEDS, "CONFIG_LEARNING_RATE=1e-3|1e-2\n")
    result = sweep.run("--no-progress", env=EPOCHS)
    assert result.returncode == 0, result.stderr
    board = sweep.dirs()[0] / "tensorboard"
    run = board / "config_001_lenet5_adamw"
    first = export(sweep, "tensorboard", {})
    assert "8 new runs to tensorboard" in first.stdout
    files = len(list(run.glob("events.out.tfevents.*")))  # scalars, and the hparams entry
    again = export(sweep, "tensorboard", {})  # again: replaced, not doubled
    assert "0 new runs to tensorboard (8 already there" in again.stdout
    assert len(list(board.iterdir())) == 8
    assert len(list(run.glob("events.out.tfevents.*"))) == files
    events = event_accumulator.EventAccumulator(str(run))
    events.Reload()
    assert [(s.step, s.value) for s in events.Scalars("val_acc")] == [(1, 91.0), (2, 92.0), (3, 93.0)]
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert start.hparams["CONFIG_SEED"].string_value == "30"
    assert start.hparams["CONFIG_LEARNING_RATE"].string_value == "1e-3"
    assert start.hparams["status"].string_value == "completed"
    final = events.Scalars("final/val_acc") if "final/val_acc" in events.Tags()["scalars"] else []
    assert [(s.step, s.value) for s in final] == [(3, 93.0)]  # at the curves' end, not at step 0


def test_an_unreachable_tracker_says_so_once_and_the_sweep_is_the_same(sweep, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sweep.generate(SEEDS)
    plain = sweep.run("--no-progress", "--output-dir", tmp_path / "plain")
    tracked = sweep.run(
        "--no-progress", "--tracker", "mlflow", env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    )
    assert tracked.returncode == plain.returncode == 0, tracked.stderr
    warnings = [line for line in tracked.stderr.splitlines() if "TRACKER" in line]
    assert len(warnings) == 1 and f"cannot reach MLflow at http://127.0.0.1:{port}" in warnings[0]
    assert "not tracking" in warnings[0] and "Traceback" not in tracked.stderr

    def summary(parent):
        rows = json.loads(next(parent.glob("sweep_*/sweep_summary.json")).read_text())
        return [(r["run_dir"], r["status"], r["val_acc"]) for r in rows]

    assert summary(sweep.results) == summary(tmp_path / "plain")


def test_an_unknown_tracker_is_one_line_before_any_sweep_folder(sweep):
    sweep.generate("30")
    result = sweep.run("--tracker", "mlflow,neptune")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: TRACKER=mlflow,neptune: unknown neptune (one or more of mlflow, tensorboard, wandb, trackio)"
    )
    assert not sweep.results.exists() or not sweep.dirs()


def wandb_runs(sweep_dir):
    """run id → its records, from the offline run files (tests/wandb_records.py)."""
    from tests.wandb_records import records

    out = {}
    for path in (sweep_dir / "wandb/wandb").glob("offline-run-*/run-*.wandb"):
        rs = records(path)
        runs = [r.run for r in rs if r.WhichOneof("record_type") == "run"]  # a live run: updated at its end
        out[runs[0].run_id] = rs
    return out


def test_wandb_offline_runs_hold_config_history_and_exit_code_once_each(sweep):
    pytest.importorskip("wandb")
    sweep.generate(SEEDS)
    env = {**EPOCHS, "WANDB_MODE": "offline"}
    result = sweep.run("--no-progress", "--tracker", "wandb", env=env)
    assert result.returncode == 0, result.stderr
    export(sweep, "wandb", env)  # again, after live logging: the same four runs
    sweep_dir = sweep.dirs()[0]
    runs = wandb_runs(sweep_dir)
    assert len(runs) == 4
    by_name = {}
    for rs in runs.values():
        (run,) = [r.run for r in rs if r.WhichOneof("record_type") == "run"]
        assert run.run_group == sweep_dir.name
        by_name[run.display_name] = (run, rs)
    run, rs = by_name["config_001_lenet5_adamw"]
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["CONFIG_SEED"] == "30"
    history = [
        (r.history.step.num, {i.nested_key[0]: json.loads(i.value_json) for i in r.history.item})
        for r in rs
        if r.WhichOneof("record_type") == "history"
    ]
    assert [(step, row["val_acc"]) for step, row in history] == [(1, 91), (2, 92), (3, 93)]
    (exit_record,) = [r.exit for r in rs if r.WhichOneof("record_type") == "exit"]
    assert exit_record.exit_code == 0
    failed_exit = [
        r.exit for r in by_name["config_003_lenet5_adamw"][1] if r.WhichOneof("record_type") == "exit"
    ]
    assert failed_exit[0].exit_code == 1


def test_trackio_has_a_project_per_sweep_with_each_runs_config_and_history(sweep, tmp_path):
    pytest.importorskip("trackio")
    sweep.generate(SEEDS)
    env = {**EPOCHS, "TRACKIO_DIR": str(tmp_path / "trackio")}
    result = sweep.run("--no-progress", "--tracker", "trackio", env=env)
    assert result.returncode == 0, result.stderr
    export(sweep, "trackio", env)
    reader = (
        "import json, sys\nfrom trackio import SQLiteStorage as S\n"
        "p = sys.argv[1]\n"
        "print(json.dumps({r: [S.get_logs(p, r), S.get_run_config(p, r)] for r in S.get_runs(p)}))\n"
    )
    project = f"ksweep-{sweep.dirs()[0].name}"
    # trackio reads TRACKIO_DIR when it is imported: read back in a process that has it.
    out = subprocess.run(
        [sys.executable, "-c", reader, project],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert sorted(runs) == [f"config_00{i}_lenet5_adamw" for i in range(1, 5)]
    logs, config = runs["config_001_lenet5_adamw"]
    assert [(row["step"], row["val_acc"]) for row in logs if "val_acc" in row] == [(1, 91), (2, 92), (3, 93)]
    assert config["CONFIG_SEED"] == "30" and config["status"] == "completed"
    assert runs["config_003_lenet5_adamw"][1]["status"] == "failed"


def test_each_tracker_shows_a_runs_curves_while_it_trains(sweep, tmp_path):
    """Held after its second epoch (TINY_GATE_AFTER), a run is already in every tracker: an
    MLflow child RUNNING with two epochs, TensorBoard scalars, trackio rows; then it ends as one."""
    pytest.importorskip("trackio")
    from tests.conftest import wait_for

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    gate = tmp_path / "gate"
    env = {**EPOCHS, "MLFLOW_TRACKING_URI": uri, "TRACKIO_DIR": str(tmp_path / "trackio"),
           "WANDB_MODE": "offline", "TINY_GATE": str(gate), "TINY_GATE_AFTER": "2"}  # fmt: skip
    sweep.generate("30")
    runner = sweep.popen("--no-progress", "--tracker", "mlflow,tensorboard,trackio,wandb", env=env)
    try:
        client = client_for(uri)

        def live_child():
            try:
                (parent,) = parents(client)
                (child,) = children(client, parent.info.run_id)
            except (ValueError, AttributeError, mlflow.exceptions.MlflowException):
                return None  # no experiment, parent or child yet
            history = client.get_metric_history(child.info.run_id, "val_acc")
            return child if [m.step for m in history] == [1, 2] else None

        wait_for(live_child, seconds=120)
        assert live_child().info.status == "RUNNING"
        (folder,) = sweep.dirs()[0].glob("tensorboard/config_001*")
        wait_for(lambda: [e.step for e in scalars(folder, "val_acc")] == [1, 2], seconds=60)
        project = f"ksweep-{sweep.dirs()[0].name}"
        wait_for(lambda: [r["step"] for r in trackio_logs(project, env)] == [1, 2], seconds=60)
        gate.touch()
        assert runner.wait(timeout=120) == 0, runner.stderr.read()
    finally:
        runner.kill()
    (parent,) = parents(client)
    (child,) = children(client, parent.info.run_id)  # the same child, completed: no second one
    assert child.info.status == "FINISHED" and child.data.metrics["final_val_acc"] == 93.0
    assert [m.step for m in client.get_metric_history(child.info.run_id, "val_acc")] == [1, 2, 3]
    assert [e.step for e in scalars(folder, "val_acc")] == [1, 2, 3]
    assert [r["step"] for r in trackio_logs(project, env) if "val_acc" in r] == [1, 2, 3]
    (run,) = wandb_runs(sweep.dirs()[0]).values()
    assert [r.history.step.num for r in run if r.WhichOneof("record_type") == "history"] == [1, 2, 3]


def scalars(folder, tag):
    accumulator = event_accumulator.EventAccumulator(str(folder))
    accumulator.Reload()
    return accumulator.Scalars(tag) if tag in accumulator.Tags()["scalars"] else []


def trackio_logs(project, env):
    """trackio's rows of the sweep's one run, read in a process that has TRACKIO_DIR."""
    reader = (
        "import json, sys\nfrom trackio import SQLiteStorage as S\n"
        "runs = S.get_runs(sys.argv[1])\n"
        "print(json.dumps(S.get_logs(sys.argv[1], runs[0]) if runs else []))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader, project], capture_output=True, text=True, env={**os.environ, **env}
    )
    return json.loads(out.stdout) if out.returncode == 0 else []
