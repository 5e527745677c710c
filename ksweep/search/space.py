"""The search space of SEARCH=random|tpe: the range file's axes, one proposed config at a time.

The space is never enumerated. The generator's expansion (ksweep.config.generate.expand_sweep)
resolves the range file's *structural* axes (bools and choices other symbols depend on)
through Kconfig into templates, one per distinct resolved combination, each with slots
for the *leaf* axes (numbers and strings that nothing depends on). A proposal chooses,
parameter by parameter (Optuna's define-by-run), a template among those that agree with
what was chosen so far, then a value for each leaf its template holds; its config is
the template with those values in their slots, the config the generator would write. A
parameter that has no effect on the templates left (its Kconfig dependency does not
hold there) is not proposed: conditional symbols stay conditional. The range file's
lines become parameters:

    CONFIG_LEARNING_RATE=1e-4|3e-4|1e-3      categorical
    CONFIG_WEIGHT_DECAY=0.03:0.02:0.09       a stepped number (int when every value is)
    CONFIG_LEARNING_RATE=1e-5:*10:1e-2       a log-stepped number
    CONFIG_WEIGHT_DECAY=0.01~0.1             uniform, both bounds included (int for an int symbol)
    CONFIG_LEARNING_RATE=1e-5~*1e-2          log-uniform
    CONFIG_MODEL_SELECT_MLP=y|n  (and the    one categorical parameter per choice, whose
    other members of that choice, y|n)       values are its swept members

The seed (CONFIG_SEED swept, or REPEATS) is never a parameter: a proposed config is
planned once per seed. The space is kept in the sweep folder (search/space.json.gz), so a
resume needs neither the range file nor the Kconfig.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import kconfiglib

from ksweep.config import generate
from ksweep.config.kconf import config_text, load_kconfig
from ksweep.config.rangefile import CONTINUOUS, Axis, RangeFileError, format_number, parse_range_text
from ksweep.contract.records import config_values, write_atomic
from ksweep.contract.sweepdir import SweepPaths
from ksweep.folder.plan import config_source

SEED = "SEED"
SHOWN_DIGITS = 6  # a sampled float's significant digits in its config


@dataclass(frozen=True)
class Param:
    name: str  # the Optuna parameter: CONFIG_X, or a choice's name for its swept members
    symbols: tuple[str, ...]  # the range file's symbols it decides
    values: tuple[str, ...]  # its values; (low, high) when continuous; a choice's member symbols
    kind: str  # "choice", "range", "log", "uniform", "loguniform", or "member" of a Kconfig choice
    integer: bool = False  # proposed as an int

    @property
    def continuous(self) -> bool:
        return self.kind in CONTINUOUS


@dataclass(frozen=True)
class Template:
    """One resolved structural combination: its lines, where each leaf goes, and the value each
    structural parameter has there (None: no effect)."""

    lines: tuple[str, ...]
    slots: dict[str, int]  # leaf symbol → index of its line
    values: dict[str, str | None]
    assignment: dict[str, str]  # what was set to resolve it (names without CONFIG_): to resolve again


@dataclass
class Space:
    structural: list[Param]  # chosen first: they pick the template
    resolved: list[Param]  # continuous structural ones: the template is resolved again with them
    leaves: list[Param]  # then filled into the template's slots
    templates: list[Template]
    seeds: tuple[str, ...]  # the seed values every config runs with (none: no seed axis)
    count: int | None  # configs (seeds aside); None when a parameter is continuous
    kconf: object = None  # loaded when a proposal is resolved again

    @property
    def params(self) -> list[Param]:
        return [*self.structural, *self.resolved, *self.leaves]

    def describe(self) -> str:
        return "a continuous space" if self.count is None else f"a {self.count}-point space"

    # -- proposing --------------------------------------------------------------------------

    def propose(self, trial) -> list[str]:
        """Ask `trial` for one config: its text once per seed."""
        left = self.templates
        for param in self.structural:
            present = [t for t in left if t.values[param.name] is not None]
            if not present:
                continue  # no effect anywhere left: its dependency does not hold
            wanted = suggest(trial, param)
            left = [t for t in present if t.values[param.name] == wanted] or _nearest(param, wanted, present)
        template = self._resolved(trial, left[0])
        lines = list(template.lines)
        for param in self.leaves:
            symbol = param.symbols[0]
            if symbol in template.slots:
                slot = template.slots[symbol]
                lines[slot] = generate.line_renderer(symbol, template.lines[slot])(suggest(trial, param))
        return self._with_seeds(template, lines)

    def _resolved(self, trial, template: Template) -> Template:
        """The template with the continuous structural values the trial proposes, resolved
        through the Kconfig (their dependents' defaults follow them)."""
        if not self.resolved:
            return template
        assignment = dict(template.assignment)
        for param in self.resolved:
            if template.values[param.name] is not None:  # else no effect in this template
                assignment[param.name.removeprefix("CONFIG_")] = suggest(trial, param)
        self.kconf = self.kconf or load_kconfig()
        self.kconf.unset_values()
        for name, value in assignment.items():
            self.kconf.syms[name].set_value(value)
        lines = config_text(self.kconf).splitlines()
        slots = {f"CONFIG_{name}": index for name, index in generate.line_index(lines).items()}
        return Template(
            tuple(lines), {s: slots[s] for s in template.slots if s in slots}, template.values, assignment
        )

    def configs(self) -> list[list[str]]:
        """Every config of a finite space, each as its seeds' texts (only for a small one)."""
        configs = []
        for template in self.templates:
            leaves = [p for p in self.leaves if p.symbols[0] in template.slots]
            for values in itertools.product(*(p.values for p in leaves)):
                lines = list(template.lines)
                for param, value in zip(leaves, values, strict=True):
                    slot = template.slots[param.symbols[0]]
                    lines[slot] = generate.line_renderer(param.symbols[0], template.lines[slot])(value)
                configs.append(self._with_seeds(template, lines))
        return configs

    def _with_seeds(self, template: Template, lines: list[str]) -> list[str]:
        slot = template.slots.get(f"CONFIG_{SEED}")
        if slot is None or len(self.seeds) < 2:
            return ["\n".join(lines)]
        texts = []
        for seed in self.seeds:
            lines[slot] = f"CONFIG_{SEED}={seed}"
            texts.append("\n".join(lines))
        return texts

    def fixed_params(self, text: str) -> dict:
        """The parameters that make `propose` choose the config `text` (to enqueue it as a trial)."""
        values, out = config_values(text), {}
        for param in self.params:
            value = _value_in(values, param)
            if value is None:
                continue
            if param.kind in ("choice", "member") or len(param.values) < 2:
                out[param.name] = value
            elif param.kind == "range" and not param.integer:
                out[f"{param.name}#"] = _index_of(param, value)
            else:
                out[param.name] = int(value) if param.integer else float(value)
        return out

    # -- kept in the sweep folder -------------------------------------------------------------

    def save(self, sweep_dir: Path) -> None:
        data = {
            "structural": [asdict(p) for p in self.structural],
            "resolved": [asdict(p) for p in self.resolved],
            "leaves": [asdict(p) for p in self.leaves],
            "templates": [asdict(t) for t in self.templates],
            "seeds": list(self.seeds),
            "count": self.count,
        }
        path = SweepPaths(sweep_dir).space
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, gzip.compress(json.dumps(data).encode()))


def load(sweep_dir: Path) -> Space:
    data = json.loads(gzip.decompress(SweepPaths(sweep_dir).space.read_bytes()))
    if "points" in data:
        raise RangeFileError(str(sweep_dir), 0, None, "a search sweep of an older ksweep: start a new one")
    params = [[Param(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()}) for p in data[part]]
              for part in ("structural", "resolved", "leaves")]  # fmt: skip
    templates = [
        Template(tuple(t["lines"]), t["slots"], t["values"], t["assignment"]) for t in data["templates"]
    ]
    return Space(*params, templates, tuple(data["seeds"]), data["count"])


# -- made from a range file ---------------------------------------------------------------------


def of_generated(config_dir: Path) -> Space | None:
    """The space of the range file `config_dir` was generated from; None when not recorded."""
    source = config_source(config_dir)
    if not source.get("range_text"):
        return None
    return build(source["range_text"], source.get("range_file") or "<range>", source.get("repeats") or 1)


def build(range_text: str, source: str, repeats: int = 1) -> Space:
    """The space of a range file (as generate.json keeps it), resolved through the Kconfig.
    Only the bool and choice axes that other symbols depend on make templates; a number or
    string others depend on (a default's source) is resolved with each proposal instead, so
    the templates stay few however many values such axes have."""
    kconf = load_kconfig()
    axes = generate.with_repeats(parse_range_text(range_text, source), repeats, source, kconf)
    sweep = generate.expand_for_search(axes, kconf, source)
    by_value = {a.name for a in generate.by_value_axes(axes, kconf)}
    seed = next((a for a in axes if a.name == SEED and a.is_swept), None)
    choice_of = {}
    for axis in sweep.structural:
        sym = kconf.syms.get(axis.name)
        if axis.is_swept and sym is not None and sym.choice is not None and set(axis.values) <= {"y", "n"}:
            choice_of[axis.symbol] = f"CONFIG_{sym.choice.name}" if sym.choice.name else axis.symbol
    structural = params_of(sweep.structural, choice_of, kconf)
    resolved = params_of([a for a in axes if a.name in by_value and a is not seed], {}, kconf)
    leaves = params_of([a for a in sweep.leaves if a is not seed], {}, kconf)
    templates = [_template(sweep, t, structural, resolved) for t in sweep.templates]
    seeds = seed.values if seed else ()
    return Space(structural, resolved, leaves, templates, seeds, _count(templates, resolved, leaves))


def _count(templates: list[Template], resolved: list[Param], leaves: list[Param]) -> int | None:
    """Configs in the space (seeds aside); None when a parameter is continuous."""
    if any(p.continuous for p in (*resolved, *leaves)):
        return None
    return sum(
        math.prod(len(p.values) for p in resolved if t.values[p.name] is not None)
        * math.prod(len(p.values) for p in leaves if p.symbols[0] in t.slots)
        for t in templates
    )


def params_of(axes: list[Axis], choice_of: dict[str, str], kconf) -> list[Param]:
    """The swept axes as parameters, in file order; `choice_of`: member symbol → its choice's
    name, for the choice members swept y|n."""
    params, grouped = [], {}
    for axis in (a for a in axes if a.is_swept):
        group = choice_of.get(axis.symbol)
        if group is None:
            params.append(Param(axis.symbol, (axis.symbol,), axis.values, axis.kind, _integer(axis, kconf)))
        elif group not in grouped:
            grouped[group] = len(params)
            params.append(Param(group, (axis.symbol,), (axis.symbol,), "member"))
        else:
            old = params[grouped[group]]
            params[grouped[group]] = Param(
                group, (*old.symbols, axis.symbol), (*old.values, axis.symbol), "member"
            )
    return params


def _integer(axis: Axis, kconf) -> bool:
    sym = kconf.syms.get(axis.name)
    if axis.kind in CONTINUOUS:
        return sym is not None and sym.orig_type in (kconfiglib.INT, kconfiglib.HEX)
    return axis.kind != "choice" and all(_is_int(v) for v in axis.values)


def _is_int(value: str) -> bool:
    return value.lstrip("+-").isdigit()


def _template(
    sweep: generate.Expansion, template: generate.Template, structural: list[Param], resolved: list[Param]
) -> Template:
    inactive = {text.split(" ", 1)[0] for text in template.inactive}
    at = dict(zip((a.name for a in sweep.structural), template.structural_index, strict=True))
    assignment = {a.name: a.values[at.get(a.name, 0)] for a in sweep.axes}
    values: dict[str, str | None] = {}
    for param in structural:
        if param.kind == "member":
            members = [s for s in param.symbols if s not in inactive and assignment[s[7:]] == "y"]
            values[param.name] = members[0] if members else None
        else:
            values[param.name] = None if param.name in inactive else assignment[param.name[7:]]
    written = generate.line_index(template.lines)
    for param in resolved:  # resolved with each proposal: only whether it takes effect here
        values[param.name] = assignment[param.name[7:]] if param.name[7:] in written else None
    slots = {f"CONFIG_{name}": index for name, index in template.leaf_slots.items()}
    return Template(tuple(template.lines), slots, values, assignment)


# -- one parameter ------------------------------------------------------------------------------


def suggest(trial, param: Param) -> str:
    """The trial's value for `param`, as its config line writes it."""
    if param.kind in ("choice", "member") or len(param.values) < 2:
        return trial.suggest_categorical(param.name, list(param.values))
    low, high = float(param.values[0]), float(param.values[-1])
    log = param.kind in ("log", "loguniform")
    if param.continuous:
        if param.integer:
            return str(trial.suggest_int(param.name, int(low), int(high), log=log))
        return number_text(trial.suggest_float(param.name, low, high, log=log), low, high)
    numbers = [float(v) for v in param.values]
    if param.kind == "log":
        x = trial.suggest_float(param.name, low, high, log=True)
        return param.values[min(range(len(numbers)), key=lambda i: abs(math.log(numbers[i] / x)))]
    if param.integer:
        x = trial.suggest_int(param.name, int(low), int(high), step=int(numbers[1] - numbers[0]))
        return param.values[min(range(len(numbers)), key=lambda i: abs(numbers[i] - x))]
    # A decimal step is no exact float step (Optuna would drop the last value): its index, evenly spaced.
    return param.values[trial.suggest_int(f"{param.name}#", 0, len(param.values) - 1)]


def number_text(x: float, low: float, high: float) -> str:
    """A sampled float as a config writes it: SHOWN_DIGITS significant digits, within its bounds."""
    rounded = min(max(float(f"{x:.{SHOWN_DIGITS}g}"), low), high)
    return format_number(Decimal(repr(rounded)))


def _index_of(param: Param, value: str) -> int:
    return min(range(len(param.values)), key=lambda i: abs(float(param.values[i]) - float(value)))


def _value_in(values: dict[str, str], param: Param) -> str | None:
    if param.kind == "member":
        chosen = [symbol for symbol in param.symbols if values.get(symbol) == "y"]
        return chosen[0] if chosen else None
    return values.get(param.symbols[0])


def _nearest(param: Param, wanted: str, present: list[Template]) -> list[Template]:
    """The templates whose value is closest, in the parameter's own order, to one none has
    (a combination the generator dropped or folded)."""
    order = {v: i for i, v in enumerate(param.values)}
    best = min(abs(order[t.values[param.name]] - order[wanted]) for t in present)
    return [t for t in present if abs(order[t.values[param.name]] - order[wanted]) == best]
