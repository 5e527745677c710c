"""A run's .config file → a checked, frozen TrainConfig; everything wrong is refused before training.

    cfg = load_train_config("sweep_configs/config_001")   # raises ConfigError
    cfg.model, cfg.optimizer, cfg.lr                       # "lenet5", "adamw", 0.001

The file is read by kconfiglib against the project's Kconfig, as `make olddefconfig`
would: symbols it does not set take their defaults. Unlike the C tools, every kconfiglib
warning is an error here (an unknown symbol, an int outside its range, a malformed line),
and so are two members of one choice set to y: a sweep must not train something other
than what its file says. A string symbol may be written without quotes
(`CONFIG_TARGET_SPARSITY=0.7`, as range files do); the value is the same.

Then each value is checked by its Kconfig rule (ksweep.kconf.check_value: the numbers in
string symbols), and the rules Kconfig cannot express: Nesterov needs momentum, "state"
pruning needs an optimizer with moment estimates, and the pruning schedule must fit in the
run (warmup before the last step, ramp end after the warmup and within NUM_EPOCHS). Step
counts come from the datasets' known sizes, so no data is loaded to refuse a config.
Every problem found is named, in one line: `config_001: PRUNING_WARMUP=7800 ...; ...`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import kconfiglib

from ksweep.kconf import check_value, load_kconfig, symbol_values
from models import data

_ASSIGNMENT = re.compile(r"^CONFIG_(?P<name>[A-Za-z0-9_]+)=(?P<value>.*)$")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_CHECKED_TYPES = (kconfiglib.INT, kconfiglib.HEX, kconfiglib.STRING)


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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config ({err})") from None
    kconf, lines, problems = _load_strict(path, text)
    problems += _value_problems(kconf, lines, path)
    if problems:
        raise ConfigError("; ".join(problems))
    cfg = config_from_values(symbol_values(kconf))
    pool = data.TRAIN_POOL_SIZES[cfg.dataset]
    steps = data.steps_per_epoch(data.split_sizes(pool, cfg.val_fraction)[0], cfg.batch_size)
    problems = check_config(cfg) + check_schedule(cfg, steps)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return cfg


def default_config() -> TrainConfig:
    """The Kconfig defaults as a TrainConfig (what an empty config file gives)."""
    return config_from_values(symbol_values(load_kconfig()))


def _load_strict(path: Path, text: str) -> tuple[kconfiglib.Kconfig, dict[str, int], list[str]]:
    """The Kconfig with `text` loaded (bare string values quoted), each symbol's line, and the
    loader's complaints (taken before any value is evaluated: an int outside its range
    warns only then, and _value_problems reports it with its line)."""
    kconf = load_kconfig()
    kconf.warn_assign_undef = True  # an unknown symbol is a typo, not something to skip
    quoted, lines = _quote_bare_strings(kconf, text)
    # kconfiglib reads files only; the quoted copy keeps the line numbers of the original.
    fd, tmp = tempfile.mkstemp(prefix=".ksweep-config.", dir=tempfile.gettempdir())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(quoted)
        kconf.load_config(tmp)
    finally:
        os.unlink(tmp)
    errors = [w.replace(tmp, str(path)).replace("warning: ", "", 1) for w in kconf.warnings]
    return kconf, lines, errors + _double_choices(kconf, path)


def _quote_bare_strings(kconf: kconfiglib.Kconfig, text: str) -> tuple[str, dict[str, int]]:
    """`text` with CONFIG_X=0.7 written CONFIG_X="0.7" for string symbols, and each symbol's line."""
    out, lines = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _ASSIGNMENT.match(line.rstrip())
        if match:
            name, value = match["name"], match["value"]
            lines[name] = number
            sym = kconf.syms.get(name)
            if sym is not None and sym.orig_type == kconfiglib.STRING and not value.startswith('"'):
                line = f'CONFIG_{name}="{kconfiglib.escape(value)}"'
        out.append(line)
    return "\n".join(out) + "\n", lines


def _double_choices(kconf: kconfiglib.Kconfig, path: Path) -> list[str]:
    # kconfiglib, like the C tools, lets the last y of a choice win; a sweep config with
    # two is a generator bug or a typo, and training the last one would hide it.
    errors = []
    for choice in kconf.unique_choices:
        chosen = [f"CONFIG_{sym.name}" for sym in choice.syms if sym.user_value == 2]
        if len(chosen) > 1:
            errors.append(f"{path}: {' and '.join(chosen)} are each y; choice {choice.name} takes one")
    return errors


def _value_problems(kconf: kconfiglib.Kconfig, lines: dict[str, int], path: Path) -> list[str]:
    """Values (set or defaulted) that break their symbol's rule, as `file:line: CONFIG_X: why`."""
    problems = []
    for sym in kconf.unique_defined_syms:
        if sym.orig_type not in _CHECKED_TYPES or (sym.user_value is None and not sym.config_string):
            continue  # bools are checked by kconfiglib; an inactive unset symbol has no value
        reason = check_value(sym, sym.user_value if sym.user_value is not None else sym.str_value)
        if reason:
            where = f"{path}:{lines[sym.name]}" if sym.name in lines else str(path)
            problems.append(f"{where}: CONFIG_{sym.name}: {reason}")
    return problems


def config_from_values(values: dict[str, str]) -> TrainConfig:
    """A TrainConfig from symbol values (ksweep.kconf.symbol_values; inactive symbols absent)."""

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
        problems.append(f'DEVICE="{cfg.device}" is not auto, cpu, cuda or cuda:N')
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
        problems.append(f"PRUNING_RAMP_END_EPOCH={cfg.ramp_end_epoch} lies beyond NUM_EPOCHS={cfg.epochs}")
    return problems


def check_schedule(cfg: TrainConfig, steps_per_epoch: int) -> list[str]:
    """Whether the pruning schedule, in steps, fits a run of `steps_per_epoch` steps per epoch."""
    if cfg.pruning == "none":
        return []
    last = cfg.epochs * steps_per_epoch
    ramp_end = cfg.ramp_end_epoch * steps_per_epoch
    problems = []
    if cfg.pruning_warmup >= last:
        problems.append(
            f"PRUNING_WARMUP={cfg.pruning_warmup} steps lies at or beyond the run's last step {last} "
            f"(NUM_EPOCHS={cfg.epochs} x {steps_per_epoch} steps per epoch at BATCH_SIZE={cfg.batch_size})"
        )
    elif ramp_end <= cfg.pruning_warmup:
        problems.append(
            f"PRUNING_RAMP_END_EPOCH={cfg.ramp_end_epoch} (step {ramp_end}) does not come after "
            f"PRUNING_WARMUP={cfg.pruning_warmup} steps"
        )
    return problems
