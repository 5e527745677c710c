"""A run's .config file → a checked, frozen TrainConfig; everything wrong is refused before training.

    cfg = load_train_config("sweep_configs/config_001")   # raises ConfigError
    cfg.model, cfg.optimizer, cfg.lr                       # "lenet5", "adamwprune", 0.001
    cross_checks(Path("sweep_configs/config_001").read_text(), epochs=1)   # torch-free
    # ["PRUNING_WARMUP=7800 steps lies at or beyond the run's last step 351 ...; fix: ..."]

The file is read by ksweep.config.kconf.read_config, the reader `make defconfig` uses too:
symbols it does not set take their defaults; an unknown symbol, a malformed line, a
value its symbol refuses or two members of one choice set to y is an error with its
file:line (every one of them, in one line). A string symbol may be written without
quotes (`CONFIG_TARGET_SPARSITY=0.7`, as range files do); the value is the same. A
value that has no effect (its dependency unmet) is printed as a warning.

Generic knobs mean the same under every optimizer that has them: WEIGHT_DECAY for all
four, ADAM_BETA1/BETA2/AMSGRAD for Adam, AdamW and AdamWPrune. AdamWPrune reads its
ADAMWPRUNE_* symbols, which default (in Kconfig) to the generic ones, so a value set
there wins.

Then the rules Kconfig cannot express (`check_config`, `check_schedule`): Nesterov needs
momentum, "state" pruning needs an optimizer with moment estimates, and the pruning
schedule must fit in the run (warmup before the last step, ramp end after the warmup
and within NUM_EPOCHS). Step counts come from the datasets' known sizes (models.sizes),
so nothing here loads data or imports torch: the generator and the runner call
`cross_checks` to refuse before anything trains. Each problem names its fix.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import kconfiglib

from ksweep.config.kconf import load_kconfig, read_config, symbol_values
from ksweep.contract.project import PROJECT_ROOT

from . import sizes

# Where the trainer runs (the runner starts it in the project folder): a relative DATA_DIR is under it.
TRAINER_DIR = PROJECT_ROOT

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_DEVICE_FORMS = "auto, cpu, cuda or cuda:N"
# The symbols the cross-symbol checks read (a caller may cache results by their values).
CHECKED_SYMBOLS = (
    "LEARNING_RATE",
    "SGD_NESTEROV",
    "SGD_MOMENTUM",
    "DEVICE",
    "PRUNING_METHOD",
    "TARGET_SPARSITY",
    "PRUNING_WARMUP",
    "PRUNING_RAMP_END_EPOCH",
    "NUM_EPOCHS",
    "BATCH_SIZE",
    "VAL_FRACTION",
)


# What a Kconfig must define for this trainer to read its configs (config_from_values): a member
# of each choice, and the numbers every run uses. A project's own Kconfig may be a copy of ours.
CHOICES = ("MODEL_SELECT_", "DATASET_SELECT_", "OPTIMIZER_SELECT_", "SCHEDULER_SELECT_")
REQUIRED_SYMBOLS = ("NUM_EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "SEED", "VAL_FRACTION")


def missing_symbols(kconf: kconfiglib.Kconfig) -> list[str]:
    """The symbols (`MODEL_SELECT_*` for a choice) this trainer reads that `kconf` does not define."""
    defined = {sym.name for sym in kconf.unique_defined_syms}
    missing = [f"{prefix}*" for prefix in CHOICES if not any(name.startswith(prefix) for name in defined)]
    return missing + [name for name in REQUIRED_SYMBOLS if name not in defined]


class ConfigError(Exception):
    """A config the trainer refuses, with a one-line reason."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one run needs, as plain Python values (names lower case, choices as words)."""

    model: str  # lenet5 | resnet18 | mlp
    dataset: str  # digits | mnist | cifar10
    optimizer: str  # sgd | adam | adamw | adamwprune
    scheduler: str  # none | step | cosine | plateau
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    momentum: float  # SGD only; 0 otherwise
    nesterov: bool
    betas: tuple[float, float]  # Adam family only
    amsgrad: bool
    seed: int
    device: str
    data_dir: str
    val_fraction: float
    num_workers: int
    save_checkpoint: bool
    keep_checkpoints: int
    mlp_hidden_size: int
    mlp_num_layers: int
    step_size: int
    gamma: float
    patience: int
    warmup_epochs: int
    pruning: str  # none | magnitude | state
    target_sparsity: float
    pruning_warmup: int  # steps
    ramp_end_epoch: int
    pruning_frequency: int  # steps
    cpu_threads: int
    data_on_device: bool
    bf16: bool
    channels_last: bool
    compile: bool


def load_train_config(path: Path | str) -> TrainConfig:
    """The checked TrainConfig of the .config at `path`; ConfigError says why not."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: cannot read the config (no such file)")
    kconf = _shared_kconfig()
    found = read_config(kconf, path)
    if found.errors:
        raise ConfigError("; ".join(found.errors))
    for warning in found.warnings:
        print(warning, file=sys.stderr, flush=True)
    cfg = config_from_values(symbol_values(kconf))
    problems = cross_problems(cfg)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return cfg


def default_config() -> TrainConfig:
    """The Kconfig defaults as a TrainConfig (what an empty config file gives)."""
    return config_from_values(symbol_values(load_kconfig()))


@functools.cache
def _shared_kconfig() -> kconfiglib.Kconfig:
    return load_kconfig()


def cross_checks(config_text: str, epochs: int | None = None, path: str = "<config>") -> list[str]:
    """Why the built-in trainer would refuse this config at once (empty: it would train).

    `config_text` is a .config or defconfig text; `epochs` overrides NUM_EPOCHS as the
    runner's EPOCHS= does. Torch-free and quick (one Kconfig parse per process), for
    the generator and the runner to call before anything trains."""
    kconf = _shared_kconfig()
    found = read_config(kconf, path, config_text)
    if found.errors:
        return found.errors
    values = symbol_values(kconf)
    if epochs is not None:
        values["NUM_EPOCHS"] = str(epochs)
    return cross_problems(config_from_values(values))


def missing_data(config_text: str, path: str = "<config>") -> str | None:
    """The dataset this config trains on, when its files are not in DATA_DIR: one line
    saying so (the trainer would try to download it in every run, which fails offline)."""
    kconf = _shared_kconfig()
    if read_config(kconf, path, config_text).errors:
        return None
    cfg = config_from_values(symbol_values(kconf))
    data_dir = Path(cfg.data_dir)
    where = sizes.missing_files(cfg.dataset, data_dir if data_dir.is_absolute() else TRAINER_DIR / data_dir)
    if where is None:
        return None
    name = sizes.NAMES[cfg.dataset]
    return f"{name} is not in DATA_DIR={cfg.data_dir} ({where}): each run would try to download it"


def cross_problems(cfg: TrainConfig) -> list[str]:
    """check_config and check_schedule at the step count the known dataset sizes give."""
    return check_config(cfg) + check_schedule(cfg, known_steps_per_epoch(cfg))


def known_steps_per_epoch(cfg: TrainConfig) -> int:
    return sizes.steps_per_epoch(sizes.train_size(cfg.dataset, cfg.val_fraction), cfg.batch_size)


def schedule_note(cfg: TrainConfig) -> str | None:
    """Where a step-based pruning warmup falls in epochs (the seed guide counts 390 steps per
    epoch; the steps here depend on the dataset, VAL_FRACTION and BATCH_SIZE), or None."""
    if cfg.pruning == "none" or not cfg.pruning_warmup:
        return None
    steps = known_steps_per_epoch(cfg)
    return (
        f"PRUNING_WARMUP={cfg.pruning_warmup} steps is epoch {cfg.pruning_warmup / steps:.1f} "
        f"({steps} steps per epoch: {sizes.train_size(cfg.dataset, cfg.val_fraction)} {cfg.dataset} "
        f"training images at BATCH_SIZE={cfg.batch_size})"
    )


def config_from_values(values: dict[str, str]) -> TrainConfig:
    """A TrainConfig from symbol values (ksweep.config.kconf.symbol_values; inactive symbols absent)."""

    def chosen(prefix: str) -> str:
        return next(
            name[len(prefix) :].lower() for name, v in values.items() if name.startswith(prefix) and v == "y"
        )

    def num(name: str, kind=float, absent=0):
        return kind(values[name]) if name in values else absent

    def flag(name: str) -> bool:
        return values.get(name) == "y"

    optimizer = chosen("OPTIMIZER_SELECT_")
    family = "ADAMWPRUNE_" if optimizer == "adamwprune" else "ADAM_"
    return TrainConfig(
        model=chosen("MODEL_SELECT_"),
        dataset=chosen("DATASET_SELECT_"),
        optimizer=optimizer,
        scheduler=chosen("SCHEDULER_SELECT_"),
        epochs=num("NUM_EPOCHS", int),
        batch_size=num("BATCH_SIZE", int),
        lr=num("LEARNING_RATE"),
        weight_decay=num("ADAMWPRUNE_WEIGHT_DECAY" if optimizer == "adamwprune" else "WEIGHT_DECAY"),
        momentum=num("SGD_MOMENTUM"),
        nesterov=flag("SGD_NESTEROV"),
        betas=(num(family + "BETA1"), num(family + "BETA2")),
        amsgrad=flag(family + "AMSGRAD"),
        seed=num("SEED", int),
        device=values.get("DEVICE", "auto"),
        data_dir=values.get("DATA_DIR", "data"),
        val_fraction=num("VAL_FRACTION"),
        num_workers=num("NUM_WORKERS", int),
        save_checkpoint=flag("SAVE_CHECKPOINT"),
        keep_checkpoints=num("KEEP_CHECKPOINTS", int),
        mlp_hidden_size=num("MLP_HIDDEN_SIZE", int),
        mlp_num_layers=num("MLP_NUM_LAYERS", int),
        step_size=num("SCHEDULER_STEP_SIZE", int),
        gamma=num("SCHEDULER_GAMMA", absent=1.0),
        patience=num("SCHEDULER_PATIENCE", int),
        warmup_epochs=num("WARMUP_EPOCHS", int),
        pruning=values.get("PRUNING_METHOD", "none"),
        target_sparsity=num("TARGET_SPARSITY"),
        pruning_warmup=num("PRUNING_WARMUP", int),
        ramp_end_epoch=num("PRUNING_RAMP_END_EPOCH", int),
        pruning_frequency=num("PRUNING_FREQUENCY", int, absent=1),
        cpu_threads=num("CPU_THREADS", int),
        data_on_device=flag("DATA_ON_DEVICE"),
        bf16=flag("MIXED_PRECISION_BF16"),
        channels_last=flag("CHANNELS_LAST"),
        compile=flag("TORCH_COMPILE"),
    )


def check_config(cfg: TrainConfig) -> list[str]:
    """What is wrong with `cfg` beyond single values (empty when nothing is)."""
    problems = []
    if not cfg.lr > 0:
        problems.append(f"LEARNING_RATE={cfg.lr:g} must be positive")
    if cfg.optimizer == "sgd" and cfg.nesterov and cfg.momentum == 0:
        problems.append(
            "SGD_NESTEROV=y needs SGD_MOMENTUM > 0 (Nesterov momentum without momentum is undefined)"
        )
    if not _DEVICE.match(cfg.device):
        problems.append(f'DEVICE="{cfg.device}" is not {_DEVICE_FORMS}')
    if cfg.pruning == "none":
        return problems
    if not 0 <= cfg.target_sparsity < 1:
        problems.append(f"TARGET_SPARSITY={cfg.target_sparsity:g} is outside [0, 1)")
    if cfg.pruning == "state" and cfg.optimizer == "sgd":
        problems.append(
            'PRUNING_METHOD="state" ranks weights by the optimizer\'s moment estimates and SGD keeps none: '
            'use Adam, AdamW or AdamWPrune, or PRUNING_METHOD="magnitude"'
        )
    if cfg.ramp_end_epoch > cfg.epochs:
        problems.append(
            f"PRUNING_RAMP_END_EPOCH={cfg.ramp_end_epoch} lies beyond NUM_EPOCHS={cfg.epochs} "
            f"(fix: NUM_EPOCHS={cfg.ramp_end_epoch} or more, or PRUNING_RAMP_END_EPOCH={cfg.epochs} or less)"
        )
    return problems


def check_schedule(cfg: TrainConfig, steps_per_epoch: int) -> list[str]:
    """Whether the pruning schedule, in steps, fits a run of `steps_per_epoch` steps per epoch."""
    if cfg.pruning == "none":
        return []
    last = cfg.epochs * steps_per_epoch
    ramp_end = cfg.ramp_end_epoch * steps_per_epoch
    first_epoch_after = cfg.pruning_warmup // steps_per_epoch + 1  # the first epoch ending after the warmup
    problems = []
    if cfg.pruning_warmup >= last:
        problems.append(
            f"PRUNING_WARMUP={cfg.pruning_warmup} steps lies at or beyond the run's last step {last} "
            f"(NUM_EPOCHS={cfg.epochs} x {steps_per_epoch} steps per epoch at BATCH_SIZE={cfg.batch_size}; "
            f"fix: PRUNING_WARMUP={min(last, ramp_end) - 1} or less, or NUM_EPOCHS={first_epoch_after} "
            "or more)"
        )
    elif ramp_end <= cfg.pruning_warmup:
        problems.append(
            f"PRUNING_RAMP_END_EPOCH={cfg.ramp_end_epoch} (step {ramp_end}) does not come after "
            f"PRUNING_WARMUP={cfg.pruning_warmup} steps ({steps_per_epoch} steps per epoch; "
            f"fix: PRUNING_RAMP_END_EPOCH={first_epoch_after} or more, or PRUNING_WARMUP={ramp_end - 1} "
            "or less)"
        )
    return problems
