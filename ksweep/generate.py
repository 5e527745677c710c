"""Generate: range defconfig → every combination → resolved, folded configs in sweep_configs/.

    make sweep-generate RANGE_CONFIG=defconfigs/lenet5-digits-quick-range
    python scripts/generate_config_combinations.py RANGE_FILE OUT_DIR

The model: each line of a range file is an axis (ksweep.rangefile); the sweep is their
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

Errors raise RangeFileError (`file:line: CONFIG_X: reason`) before anything is written;
the output folder is replaced whole, atomically, only when every config is good.
"""

from __future__ import annotations

import difflib
import itertools
import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import kconfiglib

from ksweep.kconf import check_value, config_text, defined_symbol, load_kconfig
from ksweep.rangefile import Axis, RangeFileError
from ksweep.records import replace_dir

DEFAULT_MAX_CONFIGS = 1000
SUMMARY_FILE = "combinations_summary.txt"


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
class Sweep:
    """Everything generate decided: the configs to write and what the summary says."""

    axes: list[Axis]
    structural: list[Axis]
    leaves: list[Axis]
    templates: list[Template]
    count: int  # configs to write
    combinations: int  # combinations that select one member per choice, before folding
    folded: Counter = field(default_factory=Counter)  # reason → combinations folded
    warnings: list[str] = field(default_factory=list)

    @property
    def varied(self) -> list[Axis]:
        return [axis for axis in self.axes if axis.is_swept]


@dataclass(frozen=True)
class GeneratedConfig:
    """One config to write: its varied values (None where the axis had no effect) and text."""

    sort_key: tuple[int, ...]
    values: dict[str, str | None]
    text: str


def plan_sweep(axes: list[Axis], kconf: kconfiglib.Kconfig | None = None) -> Sweep:
    """Validate `axes` against the Kconfig and resolve every structural combination."""
    kconf = kconf or load_kconfig()
    if not axes:
        raise RangeFileError("<range>", 0, None, "no CONFIG_ lines: nothing to sweep")
    symbols = {axis.name: _checked_symbol(kconf, axis) for axis in axes}
    structural_names = _structural_names(kconf)
    structural = [a for a in axes if a.name in structural_names]
    leaves = [a for a in axes if a.name not in structural_names]
    choice_axes = _choice_axes(structural, symbols)
    leaf_product = math.prod(len(a.values) for a in leaves)

    templates: list[Template] = []
    seen: set[str] = set()
    folded: Counter = Counter()
    unmet: dict[str, str] = {}  # axis name → why it had no effect, while it never has
    active_anywhere: set[str] = set()
    valid = 0
    used: set[tuple[str, str]] = set()  # (axis, value) seen in a combination that is kept
    for index in itertools.product(*(range(len(a.values)) for a in structural)):
        values = {a.name: a.values[i] for a, i in zip(structural, index, strict=True)}
        if not _selects_one_per_choice(values, choice_axes):
            continue
        valid += 1
        used.update(values.items())
        template = _resolve(kconf, axes, symbols, values, leaves, index, unmet, active_anywhere)
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
    warnings = _check_effect(axes, active_anywhere, unmet)
    count = sum(math.prod(len(a.values) for a in leaves if a.name in t.leaf_slots) for t in templates)
    return Sweep(axes, structural, leaves, templates, count, valid * leaf_product, folded, warnings)


def _checked_symbol(kconf: kconfiglib.Kconfig, axis: Axis) -> kconfiglib.Symbol:
    sym = defined_symbol(kconf, axis.name)
    if sym is None:
        close = difflib.get_close_matches(axis.name.upper(), [s.name for s in kconf.unique_defined_syms], n=1)
        hint = f" (did you mean CONFIG_{close[0]}?)" if close else ""
        raise RangeFileError(
            axis.path, axis.line, axis.symbol, f"unknown symbol: no Kconfig defines it{hint}"
        )
    if not any(node.prompt for node in sym.nodes):
        raise RangeFileError(axis.path, axis.line, axis.symbol, "has no prompt, so only Kconfig can set it")
    for value in axis.values:
        reason = check_value(sym, value)
        if reason:
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
    return sym


def _structural_names(kconf: kconfiglib.Kconfig) -> set[str]:
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


def _resolve(kconf, axes, symbols, values, leaves, index, unmet, active_anywhere) -> Template:
    """Set one structural combination (leaves at their first value) and read the resolved config."""
    kconf.unset_values()
    for axis in axes:
        symbols[axis.name].set_value(values.get(axis.name, axis.values[0]))
    inactive = []
    for axis in axes:
        sym = symbols[axis.name]
        if sym.visibility > 0:
            active_anywhere.add(axis.name)
            _check_took_effect(axis, sym, values.get(axis.name, axis.values[0]))
            continue
        reason = _explain_unmet(sym, axes)
        unmet.setdefault(axis.name, reason)
        if axis.is_swept:
            inactive.append(f"{axis.symbol} has no effect: depends on {_unmet_text(sym)}")
    lines = config_text(kconf).splitlines()
    slots = _line_index(lines)
    leaf_slots = {a.name: slots[a.name] for a in leaves if symbols[a.name].visibility > 0}
    return Template(lines, leaf_slots, index, inactive)


def _check_took_effect(axis: Axis, sym: kconfiglib.Symbol, value: str) -> None:
    if sym.str_value != value:
        reason = f"Kconfig resolves {value} to {sym.str_value} (forced by a select or a range)"
        raise RangeFileError(axis.path, axis.line, axis.symbol, reason)


def _line_index(lines: list[str]) -> dict[str, int]:
    """Symbol name → index of the line that sets it (`CONFIG_X=...` or `# CONFIG_X is not set`)."""
    index = {}
    for i, line in enumerate(lines):
        if line.startswith("CONFIG_"):
            index[line[7 : line.index("=")]] = i
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            index[line[9 : -len(" is not set")]] = i
    return index


def _explain_unmet(sym: kconfiglib.Symbol, axes: list[Axis]) -> str:
    """Which part of `sym`'s dependency is unmet, the range-file lines that decide it, and a fix."""
    conjuncts = kconfiglib.split_expr(sym.direct_dep, kconfiglib.AND)
    first_unmet = next((c for c in conjuncts if kconfiglib.expr_value(c) == 0), sym.direct_dep)
    by_name = {a.name: a for a in axes}
    hints: list[str] = []
    for dep in kconfiglib.expr_items(first_unmet):
        deciders = [dep.name, *(s.name for s in dep.choice.syms)] if dep.choice else [dep.name]
        hints += [f"line {by_name[n].line} sets {_show(by_name[n])}" for n in deciders if n in by_name]
    fix = _meeting_assignments(first_unmet)
    if fix:
        hints.append(f"{' or '.join(fix)} would meet it")
    return f"depends on {_unmet_text(sym)}" + (f" ({'; '.join(dict.fromkeys(hints))})" if hints else "")


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
    return []


def _unmet_text(sym: kconfiglib.Symbol) -> str:
    conjuncts = kconfiglib.split_expr(sym.direct_dep, kconfiglib.AND)
    unmet = [c for c in conjuncts if kconfiglib.expr_value(c) == 0] or [sym.direct_dep]
    return " && ".join(kconfiglib.expr_str(c) for c in unmet)


def _show(axis: Axis) -> str:
    return f"{axis.symbol}={'|'.join(axis.values)}"


def _check_effect(axes: list[Axis], active_anywhere: set[str], unmet: dict[str, str]) -> list[str]:
    warnings = []
    for axis in axes:
        if axis.name in active_anywhere:
            continue
        if axis.is_swept:
            swept = f"swept over {len(axis.values)} values"
            reason = f"{swept} but has no effect in any combination: {unmet[axis.name]}"
            raise RangeFileError(axis.path, axis.line, axis.symbol, reason)
        warnings.append(f"{axis.where}: warning: {axis.symbol} has no effect: {unmet[axis.name]}")
    return warnings


def expand(sweep: Sweep) -> list[GeneratedConfig]:
    """Every config of `sweep`, in file order of the axes (first values first)."""
    order = {a.name: i for i, a in enumerate(sweep.axes)}
    structural_pos = [order[a.name] for a in sweep.structural]
    configs = []
    for template in sweep.templates:
        active = [a for a in sweep.leaves if a.name in template.leaf_slots]
        renderers = [_line_renderer(a, template.lines[template.leaf_slots[a.name]]) for a in active]
        for leaf_index in itertools.product(*(range(len(a.values)) for a in active)):
            key = [0] * len(sweep.axes)
            for pos, i in zip(structural_pos, template.structural_index, strict=True):
                key[pos] = i
            lines = list(template.lines)
            for axis, render, i in zip(active, renderers, leaf_index, strict=True):
                key[order[axis.name]] = i
                lines[template.leaf_slots[axis.name]] = render(axis.values[i])
            configs.append(
                GeneratedConfig(tuple(key), _varied_values(sweep, template, key), "\n".join(lines))
            )
    configs.sort(key=lambda c: c.sort_key)
    return configs


def _line_renderer(axis: Axis, resolved_line: str):
    """How this leaf's line reads for a value, in the shape kconfiglib wrote the first one."""
    prefix = resolved_line[: resolved_line.index("=") + 1] if "=" in resolved_line else f"{axis.symbol}="
    if resolved_line.endswith('"'):
        return lambda value: f'{prefix}"{kconfiglib.escape(value)}"'
    if "is not set" in resolved_line or resolved_line.endswith("=y"):
        return lambda value: f"{axis.symbol}=y" if value == "y" else f"# {axis.symbol} is not set"
    return lambda value: prefix + value


def _varied_values(sweep: Sweep, template: Template, key: list[int]) -> dict[str, str | None]:
    inactive = {text.split(" ", 1)[0] for text in template.inactive}
    return {
        a.symbol: None if a.symbol in inactive else a.values[key[i]]
        for i, a in enumerate(sweep.axes)
        if a.is_swept
    }


class SweepTooLarge(Exception):
    """More configs than MAX_CONFIGS allows; the message says how many and how long."""


def check_size(sweep: Sweep, max_configs: int, run_seconds: float) -> None:
    if sweep.count > max_configs:
        hours = sweep.count * run_seconds / 3600
        raise SweepTooLarge(
            f"{sweep.count} configs exceed MAX_CONFIGS={max_configs}: at {run_seconds / 60:.0f} min per run "
            f"that is {hours:,.0f} hours ({hours / 24:,.1f} days); "
            f"rerun with MAX_CONFIGS={sweep.count} if you mean it"
        )


def write_sweep(sweep: Sweep, configs: list[GeneratedConfig], out_dir: Path | str, source: str) -> None:
    """Replace `out_dir` with config_NNN files and the summary, all or nothing."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        width = max(3, len(str(len(configs))))
        for number, config in enumerate(configs, start=1):
            name = f"config_{number:0{width}d}"
            header = f"# ksweep {name} of {len(configs)}, generated from {source}\n"
            (tmp / name).write_text(header + config.text + "\n", encoding="utf-8")
        (tmp / SUMMARY_FILE).write_text(summary_text(sweep, configs, source, width), encoding="utf-8")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def summary_text(sweep: Sweep, configs: list[GeneratedConfig], source: str, width: int = 3) -> str:
    lines = [
        f"Range file: {source}",
        f"Configurations: {len(configs)} (from {sweep.combinations} combinations, "
        f"{sweep.combinations - len(configs)} folded)",
        "",
        "Varied parameters:",
    ]
    lines += [
        f"  {a.symbol}: {' | '.join(a.values)}  ({len(a.values)} values, line {a.line})" for a in sweep.varied
    ]
    if not sweep.varied:
        lines.append("  (none: a single config)")
    lines += ["", "Fixed parameters:"]
    lines += [f"  {a.symbol}={a.values[0]}" for a in sweep.axes if not a.is_swept]
    if sweep.folded:
        lines += ["", "Folded (generated once because they resolve to the same config):"]
        lines += [f"  {n} combinations: {reason}" for reason, n in sweep.folded.items()]
    lines += sweep.warnings and ["", "Warnings:", *(f"  {w}" for w in sweep.warnings)] or []
    lines += ["", "Combinations:"]
    for number, config in enumerate(configs, start=1):
        shown = " ".join(f"{k}={'-' if v is None else v}" for k, v in config.values.items())
        lines.append(f"  config_{number:0{width}d}: {shown}")
    return "\n".join(lines) + "\n"
