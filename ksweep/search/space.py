"""The search space of SEARCH=random|tpe: the range file's own grid, as Optuna parameters.

Every point a sampler may propose is a config the generator would write: the space is
the resolved, folded grid of the range file (ksweep.config.generate), so Kconfig's dependencies
and folding hold for proposals exactly as for grid configs. The range file's lines
become parameters:

    CONFIG_LEARNING_RATE=1e-4|3e-4|1e-3      categorical
    CONFIG_WEIGHT_DECAY=0.03:0.02:0.09       a stepped number (int when every value is)
    CONFIG_LEARNING_RATE=1e-5:*10:1e-2       a log-scaled number
    CONFIG_MODEL_SELECT_MLP=y|n  (and the    one categorical parameter per choice, whose
    other members of that choice, y|n)       values are its swept members

A point is proposed parameter by parameter (Optuna's define-by-run), each time among the
grid configs that agree with what was chosen so far; a parameter that has no effect on
every remaining config (its Kconfig dependency does not hold there) is not proposed at
all. A sampled number is taken to the nearest value of its range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ksweep.config.rangefile import Axis
from ksweep.contract.records import config_values


@dataclass(frozen=True)
class Param:
    name: str  # the Optuna parameter: CONFIG_X, or a choice's name for its swept members
    symbols: tuple[str, ...]  # the range file's symbols it decides
    values: tuple[str, ...]  # for a choice: its member symbols
    kind: str  # "choice", "range", "log", or "member" (which member of a Kconfig choice)


@dataclass(frozen=True)
class Point:
    """One grid config: its text and the value each parameter has there (None: no effect)."""

    text: str
    values: dict[str, str | None]


def params_of(axes: list[Axis], choice_of: dict[str, str]) -> list[Param]:
    """The swept axes as parameters, in file order; `choice_of`: member symbol → its choice's
    name, for the choice members swept y|n."""
    params, grouped = [], {}
    for axis in (a for a in axes if a.is_swept):
        group = choice_of.get(axis.symbol)
        if group is None:
            params.append(Param(axis.symbol, (axis.symbol,), axis.values, axis.kind))
        elif group not in grouped:
            grouped[group] = len(params)
            params.append(Param(group, (axis.symbol,), (axis.symbol,), "member"))
        else:
            old = params[grouped[group]]
            params[grouped[group]] = Param(
                group, (*old.symbols, axis.symbol), (*old.values, axis.symbol), "member"
            )
    return params


def point_of(text: str, params: list[Param]) -> Point:
    values = config_values(text)
    return Point(text, {p.name: _value_in(values, p) for p in params})


def _value_in(values: dict[str, str], param: Param) -> str | None:
    if param.kind == "member":
        chosen = [symbol for symbol in param.symbols if values.get(symbol) == "y"]
        return chosen[0] if chosen else None
    return values.get(param.symbols[0])


def propose(trial, params: list[Param], points: list[Point]) -> Point:
    """Ask `trial` for one point of `points`: each parameter that matters, in order."""
    left = points
    for param in params:
        present = [p for p in left if p.values[param.name] is not None]
        if not present:
            continue  # no effect anywhere left: its dependency does not hold
        wanted = suggest(trial, param)
        left = [p for p in present if p.values[param.name] == wanted] or _nearest(param, wanted, present)
    return left[0]


def suggest(trial, param: Param) -> str:
    if param.kind in ("choice", "member") or len(param.values) < 2:
        return trial.suggest_categorical(param.name, list(param.values))
    numbers = [float(v) for v in param.values]
    if param.kind == "log":
        x = trial.suggest_float(param.name, numbers[0], numbers[-1], log=True)
        return param.values[min(range(len(numbers)), key=lambda i: abs(math.log(numbers[i] / x)))]
    if all(float(v).is_integer() and "." not in v and "e" not in v.lower() for v in param.values):
        step = int(numbers[1] - numbers[0])
        x = trial.suggest_int(param.name, int(numbers[0]), int(numbers[-1]), step=step)
    else:
        x = trial.suggest_float(param.name, numbers[0], numbers[-1], step=numbers[1] - numbers[0])
    return param.values[min(range(len(numbers)), key=lambda i: abs(numbers[i] - x))]


def _nearest(param: Param, wanted: str, present: list[Point]) -> list[Point]:
    """The points whose value is closest, in the parameter's own order, to one no point has
    (a combination the grid dropped or folded)."""
    order = {v: i for i, v in enumerate(param.values)}
    best = min(abs(order[p.values[param.name]] - order[wanted]) for p in present)
    return [p for p in present if abs(order[p.values[param.name]] - order[wanted]) == best]


def fixed_params(point: Point, params: list[Param]) -> dict:
    """The parameters that make `propose` choose `point` (to enqueue it as a trial)."""
    out = {}
    for param in params:
        value = point.values[param.name]
        if value is None:
            continue
        if param.kind in ("choice", "member") or len(param.values) < 2:
            out[param.name] = value
        elif param.kind == "range" and all("." not in v and "e" not in v.lower() for v in param.values):
            out[param.name] = int(value)
        else:
            out[param.name] = float(value)
    return out
