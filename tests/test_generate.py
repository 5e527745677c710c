"""The generator, through its real CLI and make target, as a user runs it."""

import subprocess

import pytest

from ksweep.config.kconf import load_kconfig
from ksweep.contract.records import config_values
from tests.conftest import ROOT, run_script

SEED_COMMAND_RANGE = "resnet18/defconfigs/resnet18-state-pruning-compare-range"


def generate(range_path, out_dir, *extra):
    return run_script("generate_config_combinations.py", range_path, out_dir, *extra)


def configs_in(out_dir):
    return sorted(p for p in out_dir.iterdir() if p.name.startswith("config_"))


def assert_loads_clean_with(path, expected: dict[str, str]):
    kconf = load_kconfig()
    kconf.load_config(str(path))
    assert kconf.warnings == []
    for name, value in expected.items():
        assert kconf.syms[name.removeprefix("CONFIG_")].str_value == value, (path, name)


def test_quick_sweep_configs_load_clean_and_hold_the_asked_values(tmp_path):
    out = tmp_path / "sweep_configs"
    result = generate(ROOT / "defconfigs/lenet5-digits-quick-range", out)
    assert result.returncode == 0, result.stderr
    assert "36 configs" in result.stdout and "first: " in result.stdout
    files = configs_in(out)
    assert [p.name for p in files[:2]] == ["config_001", "config_002"] and len(files) == 36
    seen = set()
    for path in files:
        values = config_values(path.read_text())
        combo = (values["CONFIG_LEARNING_RATE"], values["CONFIG_WEIGHT_DECAY"], values["CONFIG_BATCH_SIZE"])
        seen.add(combo)
        assert_loads_clean_with(path, {"CONFIG_LEARNING_RATE": combo[0], "CONFIG_NUM_EPOCHS": "3"})
    assert len(seen) == 12  # 12 configs, three seeds each
    assert ("3e-4", "0", "32") in seen and ("3e-3", "0.01", "64") in seen


@pytest.mark.slow
def test_seed_guides_literal_command_gives_36_configs(tmp_path):
    out = tmp_path / "sweep_configs"
    result = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "sweep-generate",
            f"RANGE_CONFIG={SEED_COMMAND_RANGE}",
            f"CONFIG_DIR={out}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    files = configs_in(out)
    assert len(files) == 36
    assert_loads_clean_with(
        files[0],
        {
            "PRUNING_METHOD": "state",
            "TARGET_SPARSITY": "0.7",
            "ADAMWPRUNE_WEIGHT_DECAY": "0.03",
            "ADAMWPRUNE_BETA1": "0.85",
            "PRUNING_WARMUP": "7800",
            "MODEL_SELECT_RESNET18": "y",
        },
    )
    assert 'CONFIG_PRUNING_METHOD="state"' in files[0].read_text()


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("resnet18-state-pruning-quick-range", 4),
        ("resnet18-state-pruning-comprehensive-range", 36),
        ("resnet18-state-pruning-finetune-range", 9),
        ("resnet18-adamwprune-format-range", 24),
    ],
)
def test_every_seed_guide_example_generates_as_written(tmp_path, name, count):
    out = tmp_path / "out"
    result = generate(name, out)
    assert result.returncode == 0, result.stderr
    assert len(configs_in(out)) == count
    for path in configs_in(out):
        assert_loads_clean_with(path, {"OPTIMIZER_SELECT_ADAMWPRUNE": "y"})


def test_choice_sweep_folds_momentum_that_has_no_effect_with_adamw(tmp_path, range_file):
    out = tmp_path / "out"
    path = range_file(
        "CONFIG_OPTIMIZER_SELECT_SGD=y|n\nCONFIG_OPTIMIZER_SELECT_ADAMW=y|n\nCONFIG_SGD_MOMENTUM=0.5|0.9|0.95\n"
    )
    result = generate(path, out)
    assert result.returncode == 0, result.stderr
    files = configs_in(out)
    assert len(files) == 4
    optimizers = [config_values(p.read_text()).get("CONFIG_OPTIMIZER_SELECT_SGD") for p in files]
    assert optimizers == ["y", "y", "y", "n"]
    summary = (out / "combinations_summary.txt").read_text()
    assert "Configurations: 4 (from 6 combinations, 2 folded)" in summary
    assert "2 combinations: CONFIG_SGD_MOMENTUM has no effect: depends on OPTIMIZER_SELECT_SGD" in summary
    assert "2 folded" in result.stdout
    for path in files:
        values = config_values(path.read_text())
        assert (values.get("CONFIG_OPTIMIZER_SELECT_SGD") == "y") + (
            values.get("CONFIG_OPTIMIZER_SELECT_ADAMW") == "y"
        ) == 1


def test_swept_symbol_without_effect_names_unmet_dependency_and_line(tmp_path, range_file):
    path = range_file("CONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_ADAMWPRUNE_BETA1=0.85|0.89\n")
    result = generate(path, tmp_path / "out")
    assert result.returncode == 1
    assert f"{path}:2: CONFIG_ADAMWPRUNE_BETA1: swept over 2 values but has no effect" in result.stderr
    assert "depends on OPTIMIZER_SELECT_ADAMWPRUNE" in result.stderr
    assert "line 1 sets CONFIG_OPTIMIZER_SELECT_ADAMW=y" in result.stderr
    assert "CONFIG_OPTIMIZER_SELECT_ADAMWPRUNE=y would meet it" in result.stderr


def test_single_value_without_effect_is_a_warning(tmp_path, range_file):
    path = range_file("CONFIG_OPTIMIZER_SELECT_ADAMW=y\nCONFIG_SGD_MOMENTUM=0.9\nCONFIG_SEED=1|2\n")
    result = generate(path, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert f"{path}:2: warning: CONFIG_SGD_MOMENTUM has no effect" in result.stderr
    assert len(configs_in(tmp_path / "out")) == 2


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("CONFIG_LEARNING_RAT=0.1", "1: CONFIG_LEARNING_RAT", "unknown symbol"),
        ("CONFIG_SEED=1\nCONFIG_NUM_EPOCHS=0.5|2", "2: CONFIG_NUM_EPOCHS", "0.5 is not an integer"),
        ("CONFIG_NUM_EPOCHS=0", "1: CONFIG_NUM_EPOCHS", "outside the symbol's range 1..100000"),
        ("CONFIG_LEARNING_RATE=fast", "1: CONFIG_LEARNING_RATE", "fast is not a number"),
        ("CONFIG_TARGET_SPARSITY=1.5", "1: CONFIG_TARGET_SPARSITY", "outside [0, 1)"),
        ('CONFIG_PRUNING_METHOD="lottery"', "1: CONFIG_PRUNING_METHOD", "not one of none, magnitude, state"),
        ("CONFIG_SGD_NESTEROV=maybe", "1: CONFIG_SGD_NESTEROV", "not y or n"),
        ("CONFIG_SEED=1\nCONFIG_SEED=2", "2: CONFIG_SEED", "given twice"),
        ("CONFIG_LEARNING_RATE=0.1:0:1", "1: CONFIG_LEARNING_RATE", "step must be positive"),
        ("CONFIG_BATCH_SIZE=32||64", "1: CONFIG_BATCH_SIZE", "empty choice"),
        ("hello", "1: ", "expected CONFIG_NAME=value"),
        ("CONFIG_BATCH_SIZE=32|32|64", "1: CONFIG_BATCH_SIZE", "32 is given twice: give each value once"),
        ("CONFIG_LEARNING_RATE=1e-3|0.001", "1: CONFIG_LEARNING_RATE", "1e-3 and 0.001 are one value"),
        ('CONFIG_DEVICE="gpu"|"cpu"', "1: CONFIG_DEVICE", "gpu is not one of auto, cpu, cuda, cuda:N"),
        (
            "CONFIG_MODEL_MODE_SINGLE=y|n\nCONFIG_MODEL_SELECT_MLP=y",
            "1: CONFIG_MODEL_MODE_SINGLE",
            "swept over 2 values but has no effect on training",
        ),
        ("# nothing but a comment\n", " no CONFIG_ lines", "nothing to sweep"),
        ("\ufeffCONFIG_SEED=1|2", "1: ", "remove it"),
        (
            "CONFIG_OPTIMIZER_SELECT_SGD=n\nCONFIG_OPTIMIZER_SELECT_ADAMW=n",
            "1: CONFIG_OPTIMIZER_SELECT_SGD",
            "no combination selects exactly one member of choice OPTIMIZER",
        ),
    ],
)
def test_bad_input_stops_with_location_and_leaves_sweep_configs_untouched(
    tmp_path, range_file, text, where, reason
):
    out = tmp_path / "sweep_configs"
    assert generate(ROOT / "defconfigs/lenet5-digits-optimizers-range", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    path = range_file(text)
    result = generate(path, out)
    assert result.returncode == 1
    assert f"{path}:{where}" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_rerun_replaces_the_whole_folder(tmp_path, range_file):
    out = tmp_path / "out"
    generate(range_file("CONFIG_SEED=1:1:20"), out)
    assert len(configs_in(out)) == 20
    generate(range_file("CONFIG_SEED=1|2", name="small"), out)
    assert [p.name for p in configs_in(out)] == ["config_001", "config_002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small", "test-range"]


def test_more_than_max_configs_is_refused_with_count_and_time(tmp_path, range_file):
    path = range_file("CONFIG_SEED=1:1:1500")
    result = generate(path, tmp_path / "out")
    assert result.returncode == 1
    assert "1500 configs exceed MAX_CONFIGS=1000" in result.stderr and "hours" in result.stderr
    assert not (tmp_path / "out").exists()
    assert generate(path, tmp_path / "out", "--max-configs", "1500").returncode == 0
    assert len(configs_in(tmp_path / "out")) == 1500


def test_quoted_choices_reach_the_config_quoted_once(tmp_path, range_file):
    path = range_file('CONFIG_PRUNING_METHOD="state"|"magnitude"\nCONFIG_OPTIMIZER_SELECT_ADAMWPRUNE=y\n')
    generate(path, tmp_path / "out")
    texts = [p.read_text() for p in configs_in(tmp_path / "out")]
    assert 'CONFIG_PRUNING_METHOD="state"' in texts[0] and 'CONFIG_PRUNING_METHOD="magnitude"' in texts[1]
    assert "CONFIG_TARGET_SPARSITY=" in texts[0]


def _readme_first_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(readme) if "You write a *range defconfig*" in line)
    block = []
    for line in readme[start + 1 :]:
        if line.startswith("    CONFIG_"):
            block.append(line.strip())
        elif block:
            break
    return "\n".join(block) + "\n"


def test_readme_first_example_generates_12_configs_under_the_default_optimizer(tmp_path, range_file):
    text = _readme_first_example()
    assert "CONFIG_WEIGHT_DECAY=0.03:0.02:0.09" in text and "OPTIMIZER" not in text
    out = tmp_path / "out"
    result = generate(range_file(text), out)
    assert result.returncode == 0, result.stderr
    files = configs_in(out)
    assert len(files) == 12
    decays = set()
    for path in files:
        values = config_values(path.read_text())
        assert values["CONFIG_OPTIMIZER_SELECT_ADAMWPRUNE"] == "y"
        # the generic knob reaches AdamWPrune, which is what the trainer reads
        assert values["CONFIG_ADAMWPRUNE_WEIGHT_DECAY"] == values["CONFIG_WEIGHT_DECAY"]
        assert values["CONFIG_ADAMWPRUNE_BETA2"] == "0.999"
        decays.add(values["CONFIG_WEIGHT_DECAY"])
    assert decays == {"0.03", "0.05", "0.07", "0.09"}


def test_adamwprune_symbol_set_in_the_file_wins_over_the_generic_one(tmp_path, range_file):
    path = range_file("CONFIG_WEIGHT_DECAY=0.1\nCONFIG_ADAMWPRUNE_WEIGHT_DECAY=0.03|0.05\n")
    out = tmp_path / "out"
    assert generate(path, out).returncode == 0
    values = [config_values(p.read_text()) for p in configs_in(out)]
    assert [v["CONFIG_ADAMWPRUNE_WEIGHT_DECAY"] for v in values] == ["0.03", "0.05"]
    assert {v["CONFIG_WEIGHT_DECAY"] for v in values} == {"0.1"}


SEED_SNIPPETS_WITHOUT_METHOD = {  # the sweep guide's "Example Configurations", verbatim
    "quick": "CONFIG_ADAMWPRUNE_WEIGHT_DECAY=0.03|0.07\nCONFIG_ADAMWPRUNE_BETA1=0.85|0.89\n"
    "CONFIG_PRUNING_WARMUP=7800\nCONFIG_PRUNING_RAMP_END_EPOCH=70\n# Total: 4 configurations\n",
    "comprehensive": "CONFIG_ADAMWPRUNE_WEIGHT_DECAY=0.03|0.05|0.07\nCONFIG_ADAMWPRUNE_BETA1=0.85|0.87|0.89\n"
    "CONFIG_PRUNING_WARMUP=7800|11700\nCONFIG_PRUNING_RAMP_END_EPOCH=70|80\n# Total: 36 configurations\n",
    "format": "# Fixed parameters\nCONFIG_MODEL_MODE_SINGLE=y\nCONFIG_TARGET_SPARSITY=0.7\n"
    "CONFIG_ADAMWPRUNE_WEIGHT_DECAY=0.03:0.02:0.09\nCONFIG_ADAMWPRUNE_BETA1=0.85|0.87|0.89\n",
}


@pytest.mark.parametrize("name, count", [("comprehensive", 36), ("format", 12), ("quick", 4)])
def test_seed_snippet_setting_pruning_knobs_alone_prunes_with_state_and_says_so(
    tmp_path, range_file, name, count
):
    out = tmp_path / "sweep_configs"
    path = range_file(SEED_SNIPPETS_WITHOUT_METHOD[name])
    result = generate(path, out)
    assert result.returncode == 0, result.stderr
    assert f"{count} configs" in result.stdout
    assert (
        f"{path}:3: note: CONFIG_" in result.stderr
        and 'CONFIG_PRUNING_METHOD="state" is implied' in result.stderr
    )
    values = [config_values(p.read_text()) for p in configs_in(out)]
    assert len(values) == count and {v["CONFIG_PRUNING_METHOD"] for v in values} == {"state"}


def test_an_explicit_pruning_method_none_beside_a_knob_is_still_refused(tmp_path, range_file):
    path = range_file('CONFIG_PRUNING_METHOD="none"\nCONFIG_TARGET_SPARSITY=0.5|0.7\n')
    result = generate(path, tmp_path / "out")
    assert result.returncode == 1 and f"{path}:2: CONFIG_TARGET_SPARSITY" in result.stderr


SEED_STEP1 = """# resnet18/defconfigs/resnet18-state-pruning-compare-range

# Fixed model settings
CONFIG_MODEL_SELECT_RESNET18=y
CONFIG_OPTIMIZER_SELECT_ADAMWPRUNE=y
CONFIG_PRUNING_METHOD="state"
CONFIG_TARGET_SPARSITY=0.7

# Tunable parameters
CONFIG_ADAMWPRUNE_WEIGHT_DECAY=0.03|0.05|0.07
CONFIG_ADAMWPRUNE_BETA1=0.85|0.87|0.89
CONFIG_PRUNING_WARMUP=7800|11700  # Epoch 20 or 30
CONFIG_PRUNING_RAMP_END_EPOCH=70|80
"""


def test_configs_the_trainer_would_refuse_are_counted_with_reason_and_fix(tmp_path, range_file):
    out = tmp_path / "out"
    result = generate(range_file(SEED_STEP1), out)
    assert result.returncode == 0, result.stderr  # a warning: EPOCHS= or a TRAIN_COMMAND may change it
    assert "warning: 36 of 36 configs would be refused by the built-in trainer" in result.stderr
    assert "PRUNING_WARMUP=7800 steps lies at or beyond the run's last step 105" in result.stderr
    assert "fix: PRUNING_WARMUP=104 or less, or NUM_EPOCHS=372 or more" in result.stderr
    assert "36 of 36 configs would be refused" in (out / "combinations_summary.txt").read_text()
    assert len(configs_in(out)) == 36


def test_step_based_warmup_is_shown_in_epochs(tmp_path):
    result = generate("resnet18-state-pruning-compare-range", tmp_path / "out")
    assert result.returncode == 0 and "refused" not in result.stderr
    assert "PRUNING_WARMUP=7800 steps is epoch 22.2 (351 steps per epoch" in result.stderr
    assert "PRUNING_WARMUP=11700 steps is epoch 33.3" in result.stderr


def test_generate_json_records_the_range_file_its_text_and_axes(tmp_path, range_file):
    import json

    text = "CONFIG_SEED=1|2  # two seeds\nCONFIG_NUM_EPOCHS=2\n"
    path = range_file(text)
    out = tmp_path / "out"
    assert generate(path, out).returncode == 0
    record = json.loads((out / "generate.json").read_text())
    assert record["range_file"] == str(path) and record["range_file_resolved"] == str(path.resolve())
    assert record["range_text"] == text and record["count"] == 2
    assert record["axes"] == {"CONFIG_SEED": ["1", "2"], "CONFIG_NUM_EPOCHS": ["2"]}
    assert record["created"][:2] == "20"
    path.write_text("CONFIG_SEED=3\n")  # editing the range file later changes nothing recorded
    assert json.loads((out / "generate.json").read_text())["range_text"] == text


def test_sweep_configs_follows_the_umask(tmp_path, range_file):
    assert generate(range_file("CONFIG_SEED=1"), tmp_path / "out").returncode == 0
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _immutable(path) -> bool:
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def test_unwritable_target_is_one_line_error_and_leaves_no_temp_folder(tmp_path, range_file):
    path = range_file("CONFIG_SEED=1|2")
    out = tmp_path / "sweep_configs"
    assert generate(path, out).returncode == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    if not _immutable(out):
        pytest.skip("chattr +i is not available here")
    try:
        result = generate(range_file("CONFIG_SEED=3|4", name="other"), out)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"error: cannot write {out}/") and "nothing changed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "other"])
    assert len(configs_in(out)) == 2


def test_missing_folder_falls_back_to_defconfigs_with_a_note(tmp_path):
    result = generate("scratch/qa_rangez/lenet5-digits-quick-range", tmp_path / "out")
    assert result.returncode == 0
    assert "note: scratch/qa_rangez/lenet5-digits-quick-range does not exist; using " in result.stderr
    assert "defconfigs/lenet5-digits-quick-range)" in result.stdout  # the GEN line names the file used


def test_one_config_is_counted_in_the_singular(tmp_path, range_file):
    out = tmp_path / "out"
    result = generate(range_file("CONFIG_SEED=1"), out)
    assert "1 config from 1 combination " in result.stdout
    assert (
        "Configurations: 1 (from 1 combination, 0 folded)" in (out / "combinations_summary.txt").read_text()
    )


def test_dropped_choice_combinations_are_counted(tmp_path, range_file):
    text = "".join(f"CONFIG_OPTIMIZER_SELECT_{o}=y|n\n" for o in ("SGD", "ADAM", "ADAMW"))
    out = tmp_path / "out"
    result = generate(range_file(text), out)
    assert result.returncode == 0 and len(configs_in(out)) == 3
    assert "dropped 5: they do not select exactly one member of a swept choice" in result.stdout
    assert "Dropped: 5 combinations" in (out / "combinations_summary.txt").read_text()


def test_generating_with_the_trainer_checks_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from ksweep.config import generate\n"
        "from ksweep.config.rangefile import parse_range_file\n"
        "e = generate.expand_sweep(parse_range_file(sys.argv[1]))\n"
        "print(len(generate.trainer_warnings(e, generate.expand(e))))\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = subprocess.run(
        [
            __import__("sys").executable,
            "-c",
            code,
            str(ROOT / "defconfigs/resnet18-state-pruning-compare-range"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"  # two notes: where each warmup falls
