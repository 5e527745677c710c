"""Repeats: the runs of one config with different seeds, ranked as one group.

A sweep has repeats when CONFIG_SEED varies between runs that agree on every other
swept axis, and there are two configs or more to compare: REPEATS=k (the generator adds
k seeds) or a seed axis in the range file (`CONFIG_SEED=1:1:5`) alike. The runs of one
config form a group; groups are ranked by the mean of the metric, each shown as mean ±
standard deviation with a 95% confidence interval of the mean (Student's t, n-1 degrees
of freedom). A group cannot be told apart from the best when Welch's t-test (two-sided,
unequal variances) gives p >= 0.05, or when either has a single run. How many more
repeats would separate the top two: the runs per config a two-sample t-test needs to see
their difference of means at 5% with 80% power, if their difference and spread stay as
measured, less the runs they have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SEED = "CONFIG_SEED"
CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80


@dataclass
class Group:
    key: tuple  # the group's value of each axis (the seed aside)
    runs: list[dict]  # its completed runs with the metric, best first
    values: list[float]
    indistinguishable: bool = False  # from the best group, at CONFIDENCE
    p_value: float | None = None  # Welch's t-test against the best group
    place: str = ""

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / self.n

    @property
    def sd(self) -> float | None:
        if self.n < 2:
            return None
        return math.sqrt(sum((v - self.mean) ** 2 for v in self.values) / (self.n - 1))

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.n < 2:
            return None
        from scipy import stats  # scipy: only with repeats

        half = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, self.n - 1) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    def interval_text(self) -> str:
        """The 95% interval as reports show it; seeds that all scored the same give no interval
        worth the name (on a small split that is often the resolution, not agreement)."""
        if self.n < 2:
            return "-"
        if self.sd == 0:
            return "n/a (identical values)"
        low, high = self.interval
        return f"[{low:.2f}, {high:.2f}]"

    def ties(self, other: Group) -> bool:
        """The same mean (to 10 significant digits, as run ties are judged)."""
        return f"{self.mean:.10g}" == f"{other.mean:.10g}"


@dataclass
class Grouping:
    groups: list[Group]  # ranked, best first
    axes: list[str]  # the axes a group is one value of (the seed is not one)
    metric: str
    separate_top_two: int | None = None  # more runs per config that would separate them
    notes: list[str] = field(default_factory=list)

    @property
    def best_set(self) -> list[Group]:
        return [g for g in self.groups if g is self.groups[0] or g.indistinguishable]


def has_repeats(records: list[dict], axes: list[str]) -> bool:
    """Whether there are configs to compare (two or more) and some ran with more than one
    seed. A sweep of seeds alone is one config: its runs are ranked one by one, as before."""
    if SEED not in axes:
        return False
    keys = [tuple(r.get(a) for a in axes if a != SEED) for r in records]
    return 1 < len(set(keys)) < len(keys)


def group_runs(ranked: list[dict], axes: list[str], metric: str, maximize: bool) -> Grouping:
    """`ranked` (completed runs with the metric, best first) as groups of one config each."""
    config_axes = [a for a in axes if a != SEED]
    by_key: dict[tuple, Group] = {}
    for run in ranked:
        key = tuple(run.get(a) for a in config_axes)
        group = by_key.setdefault(key, Group(key, [], []))
        group.runs.append(run)
        group.values.append(float(run[metric]))
    groups = sorted(
        by_key.values(), key=lambda g: (-g.mean if maximize else g.mean, g.runs[0]["config_file"])
    )
    grouping = Grouping(groups, config_axes, metric)
    if groups:
        mark_indistinguishable(groups)
        _place(groups)
    if len(groups) > 1:
        grouping.separate_top_two = more_repeats(groups[0], groups[1])
    return grouping


def welch_p(a: Group, b: Group) -> float | None:
    if a.n < 2 or b.n < 2:
        return None
    if a.sd == 0 and b.sd == 0:
        return 1.0 if a.mean == b.mean else 0.0
    from scipy import stats  # scipy: only with repeats

    return float(stats.ttest_ind(a.values, b.values, equal_var=False).pvalue)


def mark_indistinguishable(groups: list[Group]) -> None:
    best = groups[0]
    for group in groups[1:]:
        group.p_value = welch_p(best, group)
        group.indistinguishable = group.p_value is None or group.p_value >= ALPHA


def _place(groups: list[Group]) -> None:
    """Competition places: configs with the same mean share one, marked `=` (a tie outranks
    `≈`, cannot be told apart); the order within a tie is by config number."""
    number = 0
    for index, group in enumerate(groups):
        if index == 0 or not group.ties(groups[index - 1]):
            number = index + 1
        tied = (index > 0 and group.ties(groups[index - 1])) or (
            index + 1 < len(groups) and group.ties(groups[index + 1])
        )
        group.place = f"{number}=" if tied else f"{number}≈" if group.indistinguishable else str(number)


def more_repeats(a: Group, b: Group) -> int | None:
    """Runs per config beyond what they have that would separate a from b (None: cannot say)."""
    if a.n < 2 or b.n < 2:
        return None
    difference = abs(a.mean - b.mean)
    pooled = math.sqrt((a.sd**2 + b.sd**2) / 2)
    if difference == 0:
        return None  # no difference to separate
    if pooled == 0:
        return 0
    from scipy import stats  # scipy: only with repeats

    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    needed = math.ceil(2 * (z * pooled / difference) ** 2)
    return max(0, needed - min(a.n, b.n))
