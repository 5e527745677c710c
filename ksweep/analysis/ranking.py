"""Ranking: which runs count, in what order, and which share a place.

Everything that shows a ranking (the text and HTML reports, the plots, the leaderboard,
promote) takes it from here, so a tie or a mode means the same thing everywhere.
"""

from __future__ import annotations

from ksweep.run.summary import (
    CONFIG_PREFIX,
    DEFAULT_METRIC,
    METRIC_KEYS,
    MODES,
    NON_METRIC_KEYS,
    MetricError,
    default_mode,
    finite_or_none,
    is_number,
    parse_objectives,
)


class AnalyzeError(Exception):
    """A problem the user can fix (no sweep, unknown metric, ...): shown as one line."""


def available_metrics(records: list[dict]) -> list[str]:
    """The numeric record keys a sweep can be ranked by (CONFIG_ symbols are not metrics)."""
    keys = set(METRIC_KEYS)
    # Only keys beyond the standard ones need a look at the values (a trainer's extra
    # final metrics); the union of keys is one C-level pass over the records.
    extra = set().union(*map(dict.keys, records)) - keys - NON_METRIC_KEYS
    for key in extra:
        if not key.startswith(CONFIG_PREFIX) and any(is_number(r.get(key)) for r in records):
            keys.add(key)
    return sorted(keys)


def check_ranking(records: list[dict], metric: str, mode: str | None = None) -> str:
    """The mode to rank by (mode, else default_mode(metric)); AnalyzeError for an unknown
    metric (naming the known ones) or a mode other than min/max."""
    mode = mode or None
    if mode is not None and mode not in MODES:
        raise AnalyzeError(f"bad mode {mode!r}: use max or min")
    known = available_metrics(records)
    if metric not in known:
        raise AnalyzeError(f"unknown metric {metric!r}; available: {', '.join(known)}")
    return mode or default_mode(metric)


def objectives_of(records: list[dict], metric: str, mode: str | None = None) -> list[tuple[str, str]]:
    """METRIC and MODE as (metric, mode) pairs (ksweep.run.summary.parse_objectives), each checked
    as check_ranking checks one; the first ranks. AnalyzeError, one line, for what either refuses."""
    try:
        objectives = parse_objectives(metric, mode)
    except MetricError as err:
        raise AnalyzeError(str(err)) from None
    return [(name, check_ranking(records, name, given_mode)) for name, given_mode in objectives]


def tie_break(metric: str) -> tuple[str, str]:
    """The secondary key within a tie on `metric` and its mode: val_loss (min), or val_acc (max)
    when ranking by val_loss."""
    return ("val_acc", "max") if metric == "val_loss" else ("val_loss", "min")


def rank_key(metric: str, mode: str | None = None):
    """The sort key of ranked records: `metric` in `mode`, then tie_break(metric) (a run without
    the secondary key after those with it), then config_file, then run_dir."""
    mode = mode or default_mode(metric)
    second, second_mode = tie_break(metric)
    sign, second_sign = (-1 if mode == "max" else 1), (-1 if second_mode == "max" else 1)

    def key(r: dict) -> tuple:
        other = r.get(second)
        return (sign * r[metric], not is_number(other), second_sign * other if is_number(other) else 0,
                r["config_file"], r["run_dir"])  # fmt: skip

    return key


def rank_records(records: list[dict], metric: str = DEFAULT_METRIC, mode: str | None = None) -> list[dict]:
    """Completed runs that have `metric`, best first, in rank_key order."""
    ranked = [r for r in records if r.get("success") and is_number(r.get(metric))]
    return sorted(ranked, key=rank_key(metric, mode))


def same_score(a, b) -> bool:
    """Equal metric values (to 10 significant digits: 99.35 from two runs is one score)."""
    return a == b or (is_number(a) and is_number(b) and f"{a:.10g}" == f"{b:.10g}")


def tied_with(ranked: list[dict], index: int, metric: str) -> list[dict]:
    """The other ranked runs with the same `metric` value as ranked[index]."""
    score = ranked[index][metric]
    return [r for i, r in enumerate(ranked) if i != index and same_score(r[metric], score)]


def competition_ranks(ranked: list[dict], metric: str) -> list[str]:
    """Each ranked run's place: `1`, or `1=` when it shares its score (standard competition ranking)."""
    places, place = [], 0
    for i, record in enumerate(ranked):
        if i == 0 or not same_score(record[metric], ranked[i - 1][metric]):
            place = i + 1
        tied = (i > 0 and same_score(record[metric], ranked[i - 1][metric])) or (
            i + 1 < len(ranked) and same_score(record[metric], ranked[i + 1][metric])
        )
        places.append(f"{place}=" if tied else str(place))
    return places


def spread_of_means(table) -> float | None:
    """Best minus worst mean over the values that are set and have ranked runs; None (n/a)
    when fewer than two such values: one mean has no spread, and `(unset)` is no value."""
    set_values = [v for v in table.index if v is not None]
    means = table.loc[set_values, "mean"].dropna() if set_values else []
    return float(means.max() - means.min()) if len(means) > 1 else None


def finite(value) -> float | None:
    """A pandas cell as a float, or None for NaN/missing (ksweep.run.summary.finite_or_none)."""
    number = finite_or_none(value)
    return None if number is None else float(number)
