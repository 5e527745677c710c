"""Generate: range defconfig → every combination → resolved, folded configs in sweep_configs/.

    make sweep-generate RANGE_CONFIG=defconfigs/lenet5-digits-quick-range
    python scripts/generate_config_combinations.py RANGE_FILE OUT_DIR

The model: each line of a range file is an axis (ksweep.config.rangefile); the sweep is their
cross product. Every value is first checked against its Kconfig symbol (exists, type,
range, numeric strings), then each combination is resolved through kconfiglib into a
full .config, exactly as `make olddefconfig` would.

Resolution is split so that 20,000 combinations cost about what writing 20,000 files
costs. Symbols that some Kconfig expression refers to (choice members, bools guarding
other knobs, PRUNING_METHOD) are *structural*: they can change which other symbols
exist, so each of their combinations is resolved by kconfiglib. All other symbols are
*leaves*: they only ever change their own line, so one resolved template per structural
combination is filled in for each leaf combination.

Choices: when two or more members of a choice are given `y|n`, combinations that do not
select exactly one of those members are dropped. Combinations that resolve to the same
config (SGD momentum swept while the optimizer is AdamW) are written once; the summary
says how many were folded and why. A swept symbol with no effect in any combination is
an error naming the unmet dependency; a single value with no effect is a warning.

A single value with no effect is an error instead when no line of the file decides
its dependency (`CONFIG_TARGET_SPARSITY=0.7` while PRUNING_METHOD keeps its default
"none"): the file relies on a default that switches its own knob off, which is never
what was meant. Sweeping a symbol whose help says it has no effect on training
(MODEL_MODE_SINGLE) is an error too. Every such error names the line that would fix it.

After expansion, `trainer_warnings` runs the built-in trainer's own cross-symbol
checks (models.config, torch-free) on every config and says how many it would refuse
and how to fix them; a warning, since the runner's EPOCHS= or a TRAIN_COMMAND changes
the verdict.

Errors raise RangeFileError (`file:line: CONFIG_X: reason`) before anything is written;
the output folder is replaced whole, atomically, only when every config is good, and
gets generate.json beside the configs: the range file as given and resolved, the exact
text expanded, the axes, the count and the time (ksweep.contract.sweepdir.ConfigDirPaths).

    expansion = expand_sweep(parse_range_text(text, name), source=name)
    configs = expand(expansion)
    expansion.warnings += trainer_warnings(expansion, configs)
    record = provenance(name, Path(name), text, expansion, configs)
    write_sweep(expansion, configs, "sweep_configs", name, record)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import kconfiglib

from ksweep.config import trainer as builtin_trainer
from ksweep.config.defconfigs import default_range, find_defconfig
from ksweep.config.kconf import (
    KconfigProblem,
    config_text,
    defined_symbol,
    help_text,
    kconfig_file,
    load_kconfig,
    symbol_problem,
    unmet_dependency,
    use_kconfig,
    value_rule,
)
from ksweep.config.options import DEFAULT_MAX_CONFIGS
from ksweep.config.rangefile import CONTINUOUS, Axis, RangeFileError, parse_range_text
from ksweep.contract.project import NotFound, display
from ksweep.contract.records import config_hash, config_values, replace_dir
from ksweep.contract.sweepdir import ConfigDirPaths
from ksweep.contract.text import plural

NO_EFFECT_MARK = "no effect on training"  # in a help text: sweeping the symbol is an error
SHOWN_REASONS = 4  # distinct refusal reasons listed; the rest are counted


@dataclass
class Template:
    """One resolved structural combination: its config lines, with slots for the leaf axes."""

    lines: list[str]
    leaf_slots: dict[str, int]  # active leaf axis name → index of its line in `lines`
    structural_index: tuple[int, ...]  # value index of each structural axis
    inactive: list[str]  # swept axes with no effect here, each with its unmet dependency

    @property
    def inactive_text(self) -> str:
        return "; ".join(self.inactive) or "identical after Kconfig resolution"


@dataclass
class Expansion:
    """Everything generate decided: the configs to write and what the summary says."""

    axes: list[Axis]
    structural: list[Axis]
    leaves: list[Axis]
    templates: list[Template]
    count: int  # configs to write
    combinations: int  # combinations that select one member per choice, before folding
    folded: Counter = field(default_factory=Counter)  # reason → combinations folded
    warnings: list[str] = field(default_factory=list)
    dropped: int = 0  # combinations that do not select exactly one member of a swept choice

    @property
    def varied(self) -> list[Axis]:
        return [axis for axis in self.axes if axis.is_swept]


@dataclass(frozen=True)
class GeneratedConfig:
    """One config to write: its varied values (None where the axis had no effect) and text."""

    sort_key: tuple[int, ...]
    values: dict[str, str | None]
    text: str
    template: int = 0  # index of its Template in Expansion.templates


def expand_sweep(
    axes: list[Axis], kconf: kconfiglib.Kconfig | None = None, source: str = "<range>"
) -> Expansion:
    """Validate `axes` against the Kconfig and resolve every structural combination."""
    kconf = kconf or load_kconfig()
    if not axes:
        raise RangeFileError(source, 0, None, "no CONFIG_ lines: nothing to sweep")
    for axis in axes:
        checked_symbol(kconf, axis)
    axes, notes = implied_axes(axes, kconf)
    symbols = {axis.name: checked_symbol(kconf, axis) for axis in axes}
    structural_set = structural_names(kconf)
    structural = [a for a in axes if a.name in structural_set]
    leaves = [a for a in axes if a.name not in structural_set]
    choice_axes = _choice_axes(structural, symbols)
    leaf_product = math.prod(len(a.values) for a in leaves)

    resolver = _Resolver(kconf, axes, symbols, leaves)
    templates: list[Template] = []
    seen: set[str] = set()
    folded: Counter = Counter()
    valid = dropped = 0
    used: set[tuple[str, str]] = set()  # (axis, value) seen in a combination that is kept
    for index in itertools.product(*(range(len(a.values)) for a in structural)):
        values = {a.name: a.values[i] for a, i in zip(structural, index, strict=True)}
        if not _selects_one_per_choice(values, choice_axes):
            dropped += leaf_product
            continue
        valid += 1
        used.update(values.items())
        template = resolver.resolve(values, index)
        key = "\n".join(template.lines) + repr(sorted(template.leaf_slots))
        if key in seen:
            folded[template.inactive_text] += leaf_product
            continue
        seen.add(key)
        templates.append(template)
        written = math.prod(len(a.values) for a in leaves if a.name in template.leaf_slots)
        if written < leaf_product:
            folded[template.inactive_text] += leaf_product - written
    if not valid:
        raise _no_member_error(choice_axes)
    _check_choice_values(choice_axes, used)
    warnings = notes + _check_effect(axes, resolver.active_anywhere, resolver.unmet)
    count = sum(math.prod(len(a.values) for a in leaves if a.name in t.leaf_slots) for t in templates)
    combinations = valid * leaf_product
    return Expansion(axes, structural, leaves, templates, count, combinations, folded, warnings, dropped)


def with_repeats(
    axes: list[Axis], repeats: int, source: str, kconf: kconfiglib.Kconfig | None = None
) -> list[Axis]:
    """REPEATS=k: the SEED axis as k seeds counted from the file's SEED (else Kconfig's default),
    last, so that a config's seeds are numbered together. The analysis groups them
    (ksweep.analysis.repeats)."""
    if repeats <= 1:
        return axes
    given = next((a for a in axes if a.name == "SEED"), None)
    if given is not None and given.is_swept:
        reason = f"REPEATS={repeats} and a swept seed are one setting (the seeds are the repeats): give one"
        raise RangeFileError(given.path, given.line, given.symbol, reason)
    kconf = kconf or load_kconfig()
    if defined_symbol(kconf, "SEED") is None:
        reason = f"REPEATS={repeats} sweeps the seed, and {display(kconfig_file())} defines no SEED symbol"
        raise RangeFileError(source, 0, "CONFIG_SEED", reason)
    base = given.values[0] if given else kconf.syms["SEED"].str_value
    if not base.isdigit():
        raise RangeFileError(
            source, given.line if given else 0, "CONFIG_SEED", f"REPEATS needs a whole seed, not {base}"
        )
    seeds = tuple(str(int(base) + i) for i in range(repeats))
    seed_axis = Axis("SEED", seeds, given.path if given else source, given.line if given else 0, kind="range")
    return [a for a in axes if a.name != "SEED"] + [seed_axis]


# A pruning knob (TARGET_SPARSITY, PRUNING_WARMUP, ...) in a file that never sets the
# method means pruning, as in the sweep guide, whose snippets set only the knobs and mean
# AdamWPrune's state pruning: the method is added, and the generator says so.
IMPLIED_PRUNING = ("PRUNING_METHOD", "state")


def implied_axes(axes: list[Axis], kconf: kconfiglib.Kconfig) -> tuple[list[Axis], list[str]]:
    """`axes` with the settings their lines imply but do not write, and a note for each."""
    method, value = IMPLIED_PRUNING
    if any(a.name == method for a in axes):
        return axes, []
    knobs = [a for a in axes if method in kconfiglib.expr_str(kconf.syms[a.name].direct_dep)]
    if not knobs:
        return axes, []
    first = knobs[0]
    implied = Axis(method, (value,), first.path, first.line, quoted=True)
    note = (
        f'{first.where}: note: {first.symbol} means pruning: CONFIG_{method}="{value}" is implied '
        f'(the sweep guide\'s state pruning); write CONFIG_{method}="magnitude" or "none" to choose'
    )
    return [implied, *axes], [note]


def checked_symbol(kconf: kconfiglib.Kconfig, axis: Axis) -> kconfiglib.Symbol:
    reason = symbol_problem(kconf, axis.name, axis.values)
    if reason:
        raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
    sym = kconf.syms[axis.name]
    if axis.is_swept and NO_EFFECT_MARK in help_text(sym):
        reason = (
            f"swept over {len(axis.values)} values but has {NO_EFFECT_MARK} (kept so the seed guide's "
            "range files load): give it one value or remove the line"
        )
        raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
    return sym


def structural_names(kconf: kconfiglib.Kconfig) -> set[str]:
    """Symbols some Kconfig expression refers to, plus choice members: they can change other lines."""
    names = set()
    for node in kconf.node_iter():
        exprs = [node.dep, getattr(node, "visibility", kconf.y)]  # visibility: menus only
        item = node.item
        if isinstance(item, (kconfiglib.Symbol, kconfiglib.Choice)):
            exprs += [e for pair in item.defaults for e in pair]
            if isinstance(item, kconfiglib.Symbol):
                exprs += [e for pair in item.selects + item.implies for e in pair]
                exprs += [e for triple in item.ranges for e in triple]
            else:
                names.update(sym.name for sym in item.syms)
        for expr in exprs:
            names.update(sym.name for sym in kconfiglib.expr_items(expr) if not sym.is_constant)
    return names


def _choice_axes(structural: list[Axis], symbols: dict) -> dict[kconfiglib.Choice, list[Axis]]:
    """The axes that name members of each choice (a choice sweep lists its members y|n)."""
    by_choice: dict = {}
    for axis in structural:
        choice = symbols[axis.name].choice
        if choice is not None:
            by_choice.setdefault(choice, []).append(axis)
    return by_choice


def _selects_one_per_choice(values: dict[str, str], choice_axes: dict) -> bool:
    return all(sum(values[a.name] == "y" for a in members) == 1 for members in choice_axes.values())


def _check_choice_values(choice_axes: dict, used: set[tuple[str, str]]) -> None:
    """A value of a choice member that no kept combination has would be dropped silently."""
    for choice, members in choice_axes.items():
        for axis in members:
            for value in axis.values:
                if (axis.name, value) in used:
                    continue
                others = "; ".join(f"line {a.line} sets {_show(a)}" for a in members if a is not axis)
                why = "two members of choice {} are" if value == "y" else "no member of choice {} is"
                reason = (
                    f"value {value} is in no combination: with it {why.format(choice.name)} selected"
                    + (f" ({others})" if others else "")
                    + "; sweep a choice by giving y|n to two or more of its members"
                )
                raise RangeFileError(axis.path, axis.line, axis.symbol, reason)


def _no_member_error(choice_axes: dict) -> RangeFileError:
    for choice, members in choice_axes.items():
        options = itertools.product(*(a.values for a in members))
        if not any(sum(v == "y" for v in option) == 1 for option in options):
            listed = ", ".join(f"{a.symbol}={'|'.join(a.values)} (line {a.line})" for a in members)
            first = members[0]
            reason = (
                f"no combination selects exactly one member of choice {choice.name}: {listed}; "
                "give y to one member, or y|n to two or more"
            )
            return RangeFileError(first.path, first.line, first.symbol, reason)
    raise AssertionError("some choice must be unsatisfiable when no combination is valid")


@dataclass
class _Resolver:
    """Resolves structural combinations through kconfiglib, remembering which axes ever took
    effect and, for those that have not (yet), why: the unmet dependency, and whether a
    line of the file decides it."""

    kconf: kconfiglib.Kconfig
    axes: list[Axis]
    symbols: dict[str, kconfiglib.Symbol]
    leaves: list[Axis]
    unmet: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name → (why, file decides)
    active_anywhere: set[str] = field(default_factory=set)

    def resolve(self, values: dict[str, str], index: tuple[int, ...]) -> Template:
        """Set one structural combination (leaves at their first value) and read the resolved config."""
        self.kconf.unset_values()
        for axis in self.axes:
            self.symbols[axis.name].set_value(values.get(axis.name, axis.values[0]))
        inactive = []
        for axis in self.axes:
            sym = self.symbols[axis.name]
            if sym.visibility > 0:
                self.active_anywhere.add(axis.name)
                _check_took_effect(axis, sym, values.get(axis.name, axis.values[0]))
                continue
            self.unmet.setdefault(axis.name, _explain_unmet(sym, self.axes))
            if axis.is_swept:
                inactive.append(f"{axis.symbol} has no effect: depends on {unmet_dependency(sym)}")
        lines = config_text(self.kconf).splitlines()
        slots = line_index(lines)
        leaf_slots = {a.name: slots[a.name] for a in self.leaves if self.symbols[a.name].visibility > 0}
        return Template(lines, leaf_slots, index, inactive)


def _check_took_effect(axis: Axis, sym: kconfiglib.Symbol, value: str) -> None:
    if sym.str_value != value:
        reason = f"Kconfig resolves {value} to {sym.str_value} (forced by a select or a range)"
        raise RangeFileError(axis.path, axis.line, axis.symbol, reason)


def line_index(lines: list[str]) -> dict[str, int]:
    """Symbol name → index of the line that sets it (`CONFIG_X=...` or `# CONFIG_X is not set`)."""
    index = {}
    for i, line in enumerate(lines):
        if line.startswith("CONFIG_"):
            index[line[7 : line.index("=")]] = i
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            index[line[9 : -len(" is not set")]] = i
    return index


def _explain_unmet(sym: kconfiglib.Symbol, axes: list[Axis]) -> tuple[str, bool]:
    """Which part of `sym`'s dependency is unmet, the range-file lines that decide it, and a fix;
    and whether any line of the file decides it (else a default does)."""
    conjuncts = kconfiglib.split_expr(sym.direct_dep, kconfiglib.AND)
    first_unmet = next((c for c in conjuncts if kconfiglib.expr_value(c) == 0), sym.direct_dep)
    by_name = {a.name: a for a in axes}
    hints: list[str] = []
    for dep in kconfiglib.expr_items(first_unmet):
        deciders = [dep.name, *(s.name for s in dep.choice.syms)] if dep.choice else [dep.name]
        hints += [f"line {by_name[n].line} sets {_show(by_name[n])}" for n in deciders if n in by_name]
    decided = bool(hints)
    fix = _meeting_assignments(first_unmet)
    if fix:
        hints.append(f"{' or '.join(fix)} would meet it")
    text = f"depends on {unmet_dependency(sym)}" + (f" ({'; '.join(dict.fromkeys(hints))})" if hints else "")
    return text, decided


def _meeting_assignments(expr) -> list[str]:
    """Assignments that make a bool expression true: `X` → X=y, `!X` → X=n (for a choice
    member: another member =y), `A || B` → either. Comparisons get no suggestion."""
    if isinstance(expr, kconfiglib.Symbol):
        return [] if expr.is_constant or expr.orig_type != kconfiglib.BOOL else [f"CONFIG_{expr.name}=y"]
    if expr[0] == kconfiglib.OR:
        return _meeting_assignments(expr[1]) + _meeting_assignments(expr[2])
    if expr[0] == kconfiglib.NOT and isinstance(expr[1], kconfiglib.Symbol):
        sym = expr[1]
        if sym.choice:
            return [f"CONFIG_{other.name}=y" for other in sym.choice.syms if other is not sym]
        return [f"CONFIG_{sym.name}=n"] if sym.orig_type == kconfiglib.BOOL else []
    if expr[0] in (kconfiglib.EQUAL, kconfiglib.UNEQUAL):
        return _meeting_comparison(expr)
    return []


def _meeting_comparison(expr) -> list[str]:
    op, sym, const = expr
    if sym.is_constant:
        sym, const = const, sym
    if sym.is_constant or sym.orig_type != kconfiglib.STRING or not const.is_constant:
        return []
    if op == kconfiglib.EQUAL:
        return [f'CONFIG_{sym.name}="{const.name}"']
    return [f'CONFIG_{sym.name}="{word}"' for word in value_rule(sym).words if word != const.name]


def _show(axis: Axis) -> str:
    return f"{axis.symbol}={'|'.join(axis.values)}"


def _check_effect(
    axes: list[Axis], active_anywhere: set[str], unmet: dict[str, tuple[str, bool]]
) -> list[str]:
    warnings = []
    for axis in axes:
        if axis.name in active_anywhere:
            continue
        why, decided = unmet[axis.name]
        if axis.is_swept:
            reason = f"swept over {len(axis.values)} values but has no effect in any combination: {why}"
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
        if not decided:  # only a default switches it off: the line cannot mean what it says
            reason = f"has no effect: {why}; set the line that meets it, or remove this one"
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
        warnings.append(f"{axis.where}: warning: {axis.symbol} has no effect: {why}")
    return warnings


def expand(sweep: Expansion) -> list[GeneratedConfig]:
    """Every config of `sweep`, in file order of the axes (first values first)."""
    order = {a.name: i for i, a in enumerate(sweep.axes)}
    structural_pos = [order[a.name] for a in sweep.structural]
    configs = []
    for number, template in enumerate(sweep.templates):
        active = [a for a in sweep.leaves if a.name in template.leaf_slots]
        renderers = [line_renderer(a.symbol, template.lines[template.leaf_slots[a.name]]) for a in active]
        for leaf_index in itertools.product(*(range(len(a.values)) for a in active)):
            key = [0] * len(sweep.axes)
            for pos, i in zip(structural_pos, template.structural_index, strict=True):
                key[pos] = i
            lines = list(template.lines)
            for axis, render, i in zip(active, renderers, leaf_index, strict=True):
                key[order[axis.name]] = i
                lines[template.leaf_slots[axis.name]] = render(axis.values[i])
            values = _varied_values(sweep, template, key)
            configs.append(GeneratedConfig(tuple(key), values, "\n".join(lines), number))
    configs.sort(key=lambda c: c.sort_key)
    return configs


def line_renderer(symbol: str, resolved_line: str):
    """How this leaf's line reads for a value, in the shape kconfiglib wrote the first one."""
    prefix = resolved_line[: resolved_line.index("=") + 1] if "=" in resolved_line else f"{symbol}="
    if resolved_line.endswith('"'):
        return lambda value: f'{prefix}"{kconfiglib.escape(value)}"'
    if "is not set" in resolved_line or resolved_line.endswith("=y"):
        return lambda value: f"{symbol}=y" if value == "y" else f"# {symbol} is not set"
    return lambda value: prefix + value


def _varied_values(sweep: Expansion, template: Template, key: list[int]) -> dict[str, str | None]:
    inactive = {text.split(" ", 1)[0] for text in template.inactive}
    return {
        a.symbol: None if a.symbol in inactive else a.values[key[i]]
        for i, a in enumerate(sweep.axes)
        if a.is_swept
    }


class SweepTooLarge(Exception):
    """More configs than MAX_CONFIGS allows; the message says how many and how long."""


def check_size(
    sweep: Expansion, max_configs: int, run_seconds: float, basis: str = "the sweep guide's figure"
) -> None:
    if sweep.count > max_configs:
        hours = sweep.count * run_seconds / 3600
        per_run = f"{run_seconds / 60:.0f} min" if run_seconds >= 120 else f"{run_seconds:.1f} s"
        raise SweepTooLarge(
            f"{sweep.count} configs exceed MAX_CONFIGS={max_configs}: at {per_run} per run ({basis}) "
            f"that is {hours:,.1f} hours ({hours / 24:,.1f} days); "
            f"rerun with MAX_CONFIGS={sweep.count} if you mean it"
        )


def grid_epochs(sweep: Expansion, kconf: kconfiglib.Kconfig | None = None) -> float:
    """The mean NUM_EPOCHS of the grid: its axis's values, else Kconfig's default."""
    axis = next((a for a in sweep.axes if a.name == "NUM_EPOCHS"), None)
    if axis is not None:
        numbers = [int(v) for v in axis.values if str(v).isdigit()]
        if numbers:
            return sum(numbers) / len(numbers)
    sym = (kconf or load_kconfig()).syms.get("NUM_EPOCHS")
    return float(sym.str_value) if sym is not None and sym.str_value.isdigit() else 1.0


def trainer_warnings(
    sweep: Expansion, configs: list[GeneratedConfig], kconf: kconfiglib.Kconfig | None = None
) -> list[str]:
    """What the built-in trainer's cross-symbol checks (models.config, torch-free) say about
    `configs`: how many it would refuse, grouped by reason with its fix, and where a
    step-based pruning warmup falls in epochs. Results are cached per template and checked
    leaf values, so 20,000 configs cost a few hundred checks."""
    trainer = builtin_trainer.checks()
    if trainer.missing_symbols(kconf or load_kconfig()):
        return []  # a project's own Kconfig: its trainer (TRAIN_COMMAND) is the judge

    checked = [a for a in sweep.leaves if a.is_swept and a.name in trainer.CHECKED_SYMBOLS]
    cache: dict[tuple, tuple[tuple[str, ...], str | None]] = {}
    refused: Counter = Counter()
    notes: dict[str, None] = {}
    count = 0
    for config in configs:
        key = (config.template, *(config.values[a.symbol] for a in checked))
        if key not in cache:
            values = {k.removeprefix("CONFIG_"): v for k, v in config_values(config.text).items()}
            cfg = trainer.config_from_values(values)
            cache[key] = (tuple(trainer.cross_problems(cfg)), trainer.schedule_note(cfg))
        problems, note = cache[key]
        count += bool(problems)
        refused.update(problems)
        if note:
            notes[note] = None
    lines = [f"note: {note}" for note in list(notes)[:SHOWN_REASONS]]
    if len(notes) > SHOWN_REASONS:
        lines.append(f"note: and {len(notes) - SHOWN_REASONS} more warmups")
    if count:
        lines.append(
            f"warning: {count} of {plural(len(configs), 'config')} would be refused by the built-in "
            "trainer (a TRAIN_COMMAND of your own may accept them; EPOCHS= changes the verdict):"
        )
        for reason, n in refused.most_common(SHOWN_REASONS):
            lines.append(f"  {plural(n, 'config')}: {reason}")
        if len(refused) > SHOWN_REASONS:
            lines.append(f"  and {len(refused) - SHOWN_REASONS} more reasons")
    return lines


def provenance(given: str, path: Path, text: str, sweep: Expansion, configs: list, repeats: int = 1) -> dict:
    """generate.json: where the configs came from, for the runner (its sweep.json copies it)."""
    return {
        "range_file": given,
        "range_file_resolved": str(Path(path).resolve()),
        "range_text": text,
        "repeats": repeats,
        "axes": {a.symbol: list(a.values) for a in sweep.axes},
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "count": len(configs),
        # Each file's hash as written: the runner tells a config edited afterwards from a generated one.
        "hashes": {name: config_hash(text) for name, text in config_files(configs, source_name(path))},
    }


def write_sweep(
    sweep: Expansion,
    configs: list[GeneratedConfig],
    out_dir: Path | str,
    source: str,
    provenance: dict | None = None,
) -> None:
    """Replace `out_dir` with config_NNN files, the summary and generate.json, all or nothing.

    Raises OSError (nothing changed, no temp folder left) when `out_dir` cannot be written."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    leftovers = set(out_dir.parent.glob(f".{out_dir.name}.old.*"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; the folder follows the umask
        paths = ConfigDirPaths(tmp)
        width = max(3, len(str(len(configs))))
        for name, text in config_files(configs, source):
            (tmp / name).write_text(text, encoding="utf-8")
        paths.combinations.write_text(combinations_text(sweep, configs, source, width), encoding="utf-8")
        if provenance is not None:
            paths.provenance.write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for stale in set(out_dir.parent.glob(f".{out_dir.name}.old.*")) - leftovers:
            with contextlib.suppress(OSError):
                stale.rmdir()  # replace_dir's own temp folder, left empty when its rename failed
        raise


def config_files(configs: list[GeneratedConfig], source: str) -> list[tuple[str, str]]:
    """(config_NNN, the file's text) of each config, as the generator writes them."""
    width = max(3, len(str(len(configs))))
    files = []
    for number, config in enumerate(configs, start=1):
        name = f"config_{number:0{width}d}"
        files.append((name, f"# ksweep {name} of {len(configs)}, generated from {source}\n{config.text}\n"))
    return files


def source_name(path: Path) -> str:
    """The range file as the generator's messages and headers name it."""
    return display(path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def combinations_text(sweep: Expansion, configs: list[GeneratedConfig], source: str, width: int = 3) -> str:
    """combinations_summary.txt: what varies, the counts, what was folded or dropped, each config."""
    folded = sweep.combinations - len(configs)
    counted = f"{len(configs)} (from {plural(sweep.combinations, 'combination')}, {folded} folded)"
    if not configs:  # a search's space (generate_space)
        counted = "proposed one at a time by a search (never listed)"
    lines = [f"Range file: {source}", f"Configurations: {counted}"]
    if sweep.dropped:
        lines.append(
            f"Dropped: {plural(sweep.dropped, 'combination')} that do not select exactly one member "
            "of a swept choice"
        )
    lines += ["", "Varied parameters:"]
    lines += [
        f"  {a.symbol}: {' ~ '.join(a.values)}  ({a.kind}, line {a.line})"
        if a.kind in CONTINUOUS
        else f"  {a.symbol}: {' | '.join(a.values)}  ({len(a.values)} values, line {a.line})"
        for a in sweep.varied
    ]
    if not sweep.varied:
        lines.append("  (none: a single config)")
    lines += ["", "Fixed parameters:"]
    lines += [f"  {a.symbol}={a.values[0]}" for a in sweep.axes if not a.is_swept]
    if sweep.folded:
        lines += ["", "Folded (generated once because they resolve to the same config):"]
        lines += [f"  {plural(n, 'combination')}: {reason}" for reason, n in sweep.folded.items()]
    if sweep.warnings:
        lines += ["", "Warnings and notes:", *(f"  {w}" for w in sweep.warnings)]
    lines += ["", "Combinations:"]
    for number, config in enumerate(configs, start=1):
        shown = " ".join(f"{k}={'-' if v is None else v}" for k, v in config.values.items())
        lines.append(f"  config_{number:0{width}d}: {shown}")
    return "\n".join(lines) + "\n"


TYPICAL_RUN_SECONDS = 32 * 60  # the seed guide's figure for one full ResNet-18 run


def generate(
    range_file: str | Path,
    out_dir: str | Path,
    max_configs: int = DEFAULT_MAX_CONFIGS,
    repeats: int = 1,
    run_seconds: float = TYPICAL_RUN_SECONDS,
    seconds_per_epoch: float | None = None,
    search: bool = False,
) -> tuple[Expansion, list[GeneratedConfig], str]:
    """The whole stage: find and read `range_file`, expand it (with `repeats` seeds), check its
    size, ask the built-in trainer's checks, and write `out_dir` atomically. Returns the
    expansion, the configs and the range file as messages name it. The size check's time per
    run is `seconds_per_epoch` (an earlier sweep's) times the grid's epochs when given, else
    `run_seconds`. With `search`, no config is listed (generate_space). Raises RangeFileError,
    NotFound, SweepTooLarge or OSError (nothing written)."""
    path = find_defconfig(range_file)
    source = source_name(path)
    text = read_range_file(path, source)
    axes = with_repeats(parse_range_text(text, source), repeats, source)
    if search:
        return generate_space(range_file, path, text, axes, out_dir, source, repeats)
    refuse_continuous(axes)
    sweep = expand_sweep(axes, source=source)
    if seconds_per_epoch:  # measured by an earlier sweep of this range file: better than a guess
        epochs = grid_epochs(sweep)
        basis = f"{seconds_per_epoch:.2f} s per epoch x {epochs:g} epochs, as the newest sweep of it ran"
        check_size(sweep, max_configs, seconds_per_epoch * epochs, basis)
    else:
        check_size(sweep, max_configs, run_seconds)
    configs = expand(sweep)
    sweep.warnings += trainer_warnings(sweep, configs)
    record = provenance(str(range_file), path, text, sweep, configs, repeats)
    write_sweep(sweep, configs, out_dir, source, record)
    return sweep, configs, source


def refuse_continuous(axes: list[Axis]) -> None:
    """A grid lists every config: a continuous range has no list."""
    for axis in axes:
        if axis.kind in CONTINUOUS:
            low, high = axis.values
            step = f"{low}:*STEP:{high}" if axis.kind == "loguniform" else f"{low}:STEP:{high}"
            reason = (
                f"{'~*' if axis.kind == 'loguniform' else '~'} is a continuous range, which a grid cannot "
                f"list: give a step ({step}) or search it (SEARCH=random|tpe)"
            )
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)


def generate_space(
    given, path: Path, text: str, axes: list[Axis], out_dir, source: str, repeats: int
) -> tuple[Expansion, list[GeneratedConfig], str]:
    """Under a search: check the range file against the Kconfig and keep it (generate.json) for
    the runner, which proposes its configs one at a time (ksweep.search.space); no config
    is listed, so neither MAX_CONFIGS nor the grid's size applies."""
    shown = replace(expand_for_search(axes, source=source), axes=axes)  # the axes as written
    record = provenance(str(given), path, text, shown, [], repeats)
    record.update(search=True, count=None)
    write_sweep(shown, [], out_dir, source, record)
    return shown, [], source


def by_value_axes(axes: list[Axis], kconf: kconfiglib.Kconfig | None = None) -> list[Axis]:
    """The swept numbers and strings other symbols depend on (a default's source): a search
    resolves them with each proposal instead of making a template for each value."""
    kconf = kconf or load_kconfig()
    structural = structural_names(kconf)
    by_choice = (kconfiglib.BOOL, kconfiglib.TRISTATE)
    return [
        a
        for a in axes
        if a.is_swept and a.name in structural and kconf.syms[a.name].orig_type not in by_choice
    ]


def expand_for_search(
    axes: list[Axis], kconf: kconfiglib.Kconfig | None = None, source: str = "<range>"
) -> Expansion:
    """The expansion a search proposes from: each value checked, the by-value axes cut to their
    first value (so the templates are the bool and choice combinations only, never listed)."""
    kconf = kconf or load_kconfig()
    for axis in axes:
        checked_symbol(kconf, axis)
        if axis.name == "SEED" and axis.kind in CONTINUOUS:
            reason = (
                "a seed is never searched (its luck is not a setting): give the seeds (1|2|3) or REPEATS=k"
            )
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
    cut = {a.name for a in by_value_axes(axes, kconf)}
    cut_axes = [Axis(a.name, a.values[:1], a.path, a.line, a.quoted) if a.name in cut else a for a in axes]
    return expand_sweep(cut_axes, kconf, source=source)


def read_range_file(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RangeFileError(
            source, 0, None, f"cannot read: {getattr(err, 'strerror', None) or err}"
        ) from None


def print_report(sweep: Expansion, configs: list[GeneratedConfig], out_dir: str | Path, source: str) -> None:
    """The GEN lines: how many configs from how many combinations, what was folded or dropped."""
    for warning in sweep.warnings:
        print(warning, file=sys.stderr)
    folded = sweep.combinations - len(configs)
    print(
        f"  GEN     {out_dir}/: {plural(len(configs), 'config')} from "
        f"{plural(sweep.combinations, 'combination')}"
        + (f", {folded} folded" if folded else "")
        + f" ({source})"
    )
    if sweep.dropped:
        print(f"          dropped {sweep.dropped}: they do not select exactly one member of a swept choice")
    for reason, count in sweep.folded.items():
        print(f"          folded {count}: {reason}")
    first = " ".join(f"{k}={v}" for k, v in configs[0].values.items() if v is not None)
    print(
        f"          first: {out_dir}/config_{1:0{max(3, len(str(len(configs))))}d}"
        + (f"  {first}" if first else "")
    )


def generate_and_report(
    range_file: str | Path | None,
    out_dir: Path,
    max_configs: int = DEFAULT_MAX_CONFIGS,
    repeats: int = 1,
    shown_as: Path | None = None,
    run_seconds: float = TYPICAL_RUN_SECONDS,
    seconds_per_epoch: float | None = None,
    search: str = "grid",
    kconfig: str | Path | None = None,
) -> int:
    """The generate stage as a command runs it: generate() into `out_dir`, then its GEN lines
    (naming `shown_as`, the folder people read, when the configs go to a private one) or the
    one-line reason; the exit code (0, or 1 with nothing changed). `kconfig` is the Kconfig
    to check against (ksweep.config.kconf.use_kconfig; None: ./Kconfig, else the built-in);
    without `range_file`, the quick embedded sweep."""
    try:
        use_kconfig(kconfig)
        range_file = range_file or default_range()
    except (KconfigProblem, NotFound) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    given = Path(range_file)
    try:
        if not given.is_file() and given.parent != Path("."):  # a bare name is a defconfigs/ name
            print(
                f"note: {range_file} does not exist; using {display(find_defconfig(given))}", file=sys.stderr
            )
        sweep, configs, source = generate(
            range_file, out_dir, max_configs, repeats, run_seconds, seconds_per_epoch, search != "grid"
        )
    except RangeFileError as err:
        print(str(err), file=sys.stderr)
        return 1
    except (NotFound, SweepTooLarge, KconfigProblem) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write {out_dir}/ ({err.strerror or err}); nothing changed", file=sys.stderr)
        return 1
    if search != "grid":
        print_space_report(sweep, shown_as or out_dir, source, search)
    else:
        print_report(sweep, configs, shown_as or out_dir, source)
    return 0


def print_space_report(sweep: Expansion, out_dir, source: str, search: str) -> None:
    for warning in sweep.warnings:
        print(warning, file=sys.stderr)
    continuous = [a.symbol for a in sweep.axes if a.kind in CONTINUOUS]
    size = f"{len(sweep.varied)} swept {'axis' if len(sweep.varied) == 1 else 'axes'}"
    size += f", continuous in {', '.join(continuous)}" if continuous else ""
    print(f"  GEN     {out_dir}/: a search space ({size}) from {source}; SEARCH={search} proposes from it")
