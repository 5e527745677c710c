"""Pareto fronts: with two metrics (METRIC=val_acc,total_time), the runs no other run beats on both.

One metric ranks; two metrics that pull apart (accuracy and training time, accuracy and
sparsity) have no single best, only a front of trade-offs. A run dominates another when it
is at least as good on both metrics and strictly better on one, each metric judged in its
own mode (max or min); the front is every run that no run dominates. Two runs with the
same values on both dominate neither other, so both are on the front. Values equal to 10
significant digits are equal, as ranking judges ties (ksweep.analysis.ranking.same_score).

Only completed runs with both metrics take part: a failed, pruned or unfinished run has
no place on the front, as it has none in the ranking. With repeats (a config run with
several seeds, ksweep.analysis.repeats) the points are configs, each by its means over
its seeds that have both metrics, named by its swept values: a lucky seed does not put a
config on the front.

    >>> front = pareto_front(records, [("val_acc", "max"), ("total_time", "min")])
    >>> [(p["config_file"], p["val_acc"], p["total_time"]) for p in front.front]  # best val_acc first
    [('config_002', 93.0, 12.0), ('config_003', 88.0, 8.0), ('config_007', 70.0, 4.0)]

Pure functions, records in and a Front out; the text report, the plot
(pareto_front.png) and the HTML page show it. Two objectives take O(n log n): a sort, then
one pass keeping the best second value seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ksweep.contract.text import plural
from ksweep.run.summary import is_number

Objective = tuple[str, str]  # (metric, mode): ("total_time", "min")


@dataclass
class Front:
    """The points that took part and the non-dominated ones among them."""

    objectives: list[Objective]
    points: list[dict]  # completed runs (or configs) with both metrics
    front: list[dict]  # the non-dominated points, best first by the first metric, then the second
    axes: list[str] = field(default_factory=list)  # by config: the axes a config is one value of
    by_config: bool = False  # with repeats: the points are configs by their means

    @property
    def unit(self) -> str:
        """What a point is, for people: `run`, or with repeats `config`."""
        return "config" if self.by_config else "run"


def _score(value: float, mode: str) -> float:
    """A value as a number where larger is better, to 10 significant digits (ties as ranking's)."""
    rounded = float(f"{value:.10g}")
    return rounded if mode == "max" else -rounded


def front_indices(values: list[tuple[float, float]], modes: tuple[str, str]) -> list[int]:
    """The indices of the points of `values` (one (first, second) pair each) that no other point
    dominates under `modes`, in the order given."""
    scores = [(_score(a, modes[0]), _score(b, modes[1])) for a, b in values]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i][0], -scores[i][1]))
    kept, best_before = [], float("-inf")  # the best second score among strictly better firsts
    start = 0
    while start < len(order):
        first = scores[order[start]][0]
        end = start
        while end < len(order) and scores[order[end]][0] == first:
            end += 1
        top = scores[order[start]][1]  # the best second score of this first score
        if top > best_before:
            kept += [i for i in order[start:end] if scores[i][1] == top]
        best_before = max(best_before, top)
        start = end
    return sorted(kept)


def dominates(a: dict, b: dict, objectives: list[Objective]) -> bool:
    """Whether `a` is at least as good as `b` on every objective and strictly better on one."""
    pairs = [(_score(a[m], mode), _score(b[m], mode)) for m, mode in objectives]
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def config_points(runs: list[dict], axes: list[str], objectives: list[Objective]) -> list[dict]:
    """One point per config (runs that agree on every one of `axes`): its axis values, each
    objective's mean over its runs, `n` (those runs), `runs` (best first by the first
    objective) and `config_file` (its lowest, for a stable order)."""
    by_key: dict[tuple, list[dict]] = {}
    for run in runs:
        by_key.setdefault(tuple(run.get(a) for a in axes), []).append(run)
    first, mode = objectives[0]
    points = []
    for key, members in by_key.items():
        members = sorted(members, key=lambda r: (-_score(r[first], mode), r["config_file"]))
        point = {**dict(zip(axes, key, strict=True)), "n": len(members), "runs": members}
        point.update({m: sum(r[m] for r in members) / len(members) for m, _ in objectives})
        point["config_file"] = min(r["config_file"] for r in members)
        points.append(point)
    return points


def pareto_front(records: list[dict], objectives: list[Objective], axes: list[str] | None = None) -> Front:
    """The Pareto front of the completed runs of `records` on two objectives; with `axes` (the
    config axes, the seed aside: repeats), of the configs by their means over their runs."""
    if len(objectives) != 2:
        raise ValueError(f"a Pareto front takes two objectives, not {len(objectives)}")
    runs = [r for r in records if r.get("success") and all(is_number(r.get(m)) for m, _ in objectives)]
    points = config_points(runs, axes, objectives) if axes is not None else runs
    (first, first_mode), (second, second_mode) = objectives
    kept = front_indices([(p[first], p[second]) for p in points], (first_mode, second_mode))
    front = sorted(
        (points[i] for i in kept),
        key=lambda p: (-_score(p[first], first_mode), -_score(p[second], second_mode), p["config_file"]),
    )
    return Front(list(objectives), points, front, list(axes or []), axes is not None)


def front_text(front: Front) -> str:
    """The front in one line: `3 of 6 runs on the Pareto front of val_acc (max) and total_time (min)`."""
    shown = " and ".join(f"{metric} ({mode})" for metric, mode in front.objectives)
    return f"{len(front.front)} of {plural(len(front.points), front.unit)} on the Pareto front of {shown}"
