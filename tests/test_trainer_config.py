"""The trainer's config reading and checking, the LR schedule and the pruning ramp: no training."""

from __future__ import annotations

import math

import pytest

from models.config import ConfigError, default_config, load_train_config
from models.optim import LRSchedule
from models.prune import Pruner
from tests.trainer_helpers import ROOT, SEED_GUIDE, write_config


def refused(tmp_path, **symbols) -> str:
    with pytest.raises(ConfigError) as caught:
        load_train_config(write_config(tmp_path / "config", **symbols))
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_empty_config_takes_the_kconfig_defaults(tmp_path):
    cfg = load_train_config(write_config(tmp_path / "config"))
    assert (cfg.model, cfg.dataset, cfg.optimizer, cfg.scheduler) == (
        "lenet5",
        "digits",
        "adamwprune",
        "none",
    )
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.betas, cfg.pruning) == (
        5,
        64,
        0.001,
        (0.9, 0.999),
        "none",
    )
    assert cfg == default_config()


def test_adamwprune_takes_its_own_symbols(tmp_path):
    cfg = load_train_config(
        write_config(
            tmp_path / "config",
            OPTIMIZER_SELECT_ADAMWPRUNE=True,
            ADAMWPRUNE_BETA1="0.87",
            ADAMWPRUNE_WEIGHT_DECAY="0.05",
            ADAMWPRUNE_AMSGRAD=True,
        )
    )
    assert (cfg.optimizer, cfg.betas, cfg.weight_decay, cfg.amsgrad) == (
        "adamwprune",
        (0.87, 0.999),
        0.05,
        True,
    )


def test_unquoted_number_in_a_string_symbol_reads_like_a_quoted_one(tmp_path):
    cfg = load_train_config(
        write_config(tmp_path / "config", PRUNING_METHOD='"magnitude"', TARGET_SPARSITY=0.7)
    )
    assert cfg.target_sparsity == 0.7


def test_word_as_learning_rate_is_refused_with_file_and_line(tmp_path):
    reason = refused(tmp_path, NUM_EPOCHS=2, LEARNING_RATE="fast")
    assert f"{tmp_path / 'config'}:2: CONFIG_LEARNING_RATE: fast is not a number" in reason


def test_unknown_symbol_is_refused(tmp_path):
    reason = refused(tmp_path, LEARNING_RATEE="0.1")
    assert "config:1: CONFIG_LEARNING_RATEE: unknown symbol" in reason
    assert "(did you mean CONFIG_LEARNING_RATE?)" in reason


def test_int_outside_its_range_is_refused_not_replaced_by_the_default(tmp_path):
    assert "CONFIG_BATCH_SIZE: 0 is outside the symbol's range" in refused(tmp_path, BATCH_SIZE=0)


def test_two_members_of_one_choice_are_refused(tmp_path):
    reason = refused(tmp_path, OPTIMIZER_SELECT_SGD=True, OPTIMIZER_SELECT_ADAM=True)
    assert "config:2: CONFIG_OPTIMIZER_SELECT_ADAM: a second member of choice OPTIMIZER" in reason
    assert "line 1 sets CONFIG_OPTIMIZER_SELECT_SGD=y" in reason


def test_every_problem_is_named_at_once(tmp_path):
    reason = refused(tmp_path, LEARNING_RATE="fast", SEED="x", TARGET_SPARSITY="1.5")
    assert "LEARNING_RATE" in reason and "SEED" in reason and "TARGET_SPARSITY" in reason


def test_nesterov_without_momentum_is_refused(tmp_path):
    reason = refused(tmp_path, OPTIMIZER_SELECT_SGD=True, SGD_MOMENTUM="0", SGD_NESTEROV=True)
    assert "SGD_NESTEROV=y needs SGD_MOMENTUM > 0" in reason


def test_state_pruning_with_sgd_is_refused(tmp_path):
    reason = refused(tmp_path, OPTIMIZER_SELECT_SGD=True, PRUNING_METHOD="state")
    assert 'PRUNING_METHOD="state"' in reason and "SGD keeps none" in reason


def test_ramp_end_beyond_the_last_epoch_is_refused(tmp_path):
    reason = refused(tmp_path, PRUNING_METHOD="magnitude", NUM_EPOCHS=2, PRUNING_RAMP_END_EPOCH=3)
    assert "PRUNING_RAMP_END_EPOCH=3 lies beyond NUM_EPOCHS=2" in reason


def test_ramp_end_before_the_pruning_warmup_is_refused(tmp_path):
    # digits: 1374 training images, 21 steps per epoch at batch 64; epoch 1 ends at step 21.
    reason = refused(tmp_path, PRUNING_METHOD="magnitude", PRUNING_WARMUP=30, PRUNING_RAMP_END_EPOCH=1)
    assert "PRUNING_RAMP_END_EPOCH=1 (step 21) does not come after PRUNING_WARMUP=30" in reason


def test_seed_guide_config_is_refused_for_its_warmup_beyond_the_last_step(tmp_path):
    reason = refused(tmp_path, **SEED_GUIDE)
    # CIFAR-10: 45,000 training images after validation, 703 steps per epoch at batch 64.
    assert "PRUNING_WARMUP=7800 steps lies at or beyond the run's last step 703" in reason
    assert "PRUNING_RAMP_END_EPOCH=70 lies beyond NUM_EPOCHS=1" in reason


def test_unknown_device_is_refused(tmp_path):
    assert "CONFIG_DEVICE: tpu is not one of auto, cpu, cuda, cuda:N" in refused(tmp_path, DEVICE="tpu")


def test_missing_config_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_train_config(tmp_path / "nope")


def schedule(kind: str, **kw) -> LRSchedule:
    return LRSchedule(kind, base_lr=1.0, epochs=10, steps_per_epoch=10, **kw)


def test_warmup_rises_linearly_to_the_learning_rate():
    s = schedule("none", warmup_epochs=2)
    assert [s.lr(step) for step in (0, 9, 19, 20, 99)] == [0.05, 0.5, 1.0, 1.0, 1.0]


def test_step_schedule_decays_every_step_size_epochs():
    s = schedule("step", step_size=3, gamma=0.1)
    assert [round(s.lr(e * 10), 6) for e in (0, 2, 3, 6, 9)] == [1.0, 1.0, 0.1, 0.01, 0.001]


def test_cosine_schedule_falls_to_zero_at_the_end():
    s = schedule("cosine")
    assert s.lr(0) == 1.0 and math.isclose(s.lr(50), 0.5) and s.lr(99) < 0.001


def test_plateau_schedule_decays_after_patience_epochs_without_improvement():
    s = schedule("plateau", gamma=0.5, patience=1)
    for loss in (1.0, 0.9, 0.95, 0.95):
        s.end_epoch(loss)
    assert s.lr(0) == 0.5


def test_pruning_ramp_is_cubic_from_warmup_to_ramp_end():
    p = Pruner("magnitude", [], target=0.8, start=100, end=200, frequency=10)
    assert [p.target_at(s) for s in (0, 100, 200, 300)] == [0.0, 0.0, 0.8, 0.8]
    assert math.isclose(p.target_at(150), 0.8 * (1 - 0.5**3))


@pytest.mark.parametrize("optimizer", ["SGD", "ADAM", "ADAMW", "ADAMWPRUNE"])
def test_generic_weight_decay_applies_under_every_optimizer(tmp_path, optimizer):
    cfg = load_train_config(
        write_config(tmp_path / "config", WEIGHT_DECAY="0.07", **{f"OPTIMIZER_SELECT_{optimizer}": True})
    )
    assert cfg.weight_decay == 0.07


@pytest.mark.parametrize("optimizer", ["ADAM", "ADAMW", "ADAMWPRUNE"])
def test_generic_adam_betas_and_amsgrad_apply_to_the_whole_adam_family(tmp_path, optimizer):
    cfg = load_train_config(
        write_config(
            tmp_path / "config",
            ADAM_BETA1="0.8",
            ADAM_BETA2="0.99",
            ADAM_AMSGRAD=True,
            **{f"OPTIMIZER_SELECT_{optimizer}": True},
        )
    )
    assert (cfg.betas, cfg.amsgrad) == ((0.8, 0.99), True)


def test_adamwprune_symbols_override_the_generic_ones(tmp_path):
    cfg = load_train_config(
        write_config(
            tmp_path / "config",
            WEIGHT_DECAY="0.07",
            ADAM_BETA1="0.8",
            ADAMWPRUNE_BETA1="0.87",
            ADAMWPRUNE_WEIGHT_DECAY="0.05",
        )
    )
    assert (cfg.optimizer, cfg.betas[0], cfg.weight_decay) == ("adamwprune", 0.87, 0.05)


CROSS_CHECKS_WITHOUT_TORCH = """
import sys
from pathlib import Path
from models.config import cross_checks
text = Path(sys.argv[1]).read_text()
print(repr(cross_checks(text)))
print(repr(cross_checks(text, epochs=1)))
assert "torch" not in sys.modules, "cross_checks imported torch"
"""


def test_cross_checks_refuse_a_seed_config_at_epochs_1_without_importing_torch(tmp_path):
    import subprocess
    import sys

    config = write_config(tmp_path / "config", **{**SEED_GUIDE, "NUM_EPOCHS": 100, "BATCH_SIZE": 128})
    proc = subprocess.run(
        [sys.executable, "-c", CROSS_CHECKS_WITHOUT_TORCH, str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    as_written, at_one_epoch = proc.stdout.splitlines()
    assert as_written == "[]"
    assert "PRUNING_WARMUP=7800 steps lies at or beyond the run's last step 351" in at_one_epoch
    assert "fix: PRUNING_WARMUP=350 or less, or NUM_EPOCHS=23 or more" in at_one_epoch
    assert "PRUNING_RAMP_END_EPOCH=70 lies beyond NUM_EPOCHS=1" in at_one_epoch
