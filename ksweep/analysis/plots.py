"""The analysis plots: PNG files beside sweep_analysis.txt.

    learning_curves.png    the ranking metric per epoch (val_acc when the metric is not a
                           per-epoch one) of the top 5 runs: did they converge, or stop early?
                           With repeats, of the top 5 configs by their mean: each one's mean
                           curve over its seeds, banded from its worst to its best seed
    parameter_effects.png  one panel per swept axis: every ranked run's metric (dots) and
                           the mean per value (squares, joined for numeric axes), the best
                           mean starred (every value sharing the best mean gets a star)
    search_progress.png    SEARCH/PRUNER sweeps: the best metric so far against runs, and
                           against epochs trained (what a search or a pruner is for)
    means_over_seeds.png   with repeats: the top configs' means over seeds with their 95%
                           intervals, each seed's run a dot, labelled with the swept values
    pareto_front.png       with two metrics: every completed run (with repeats, config by its
                           means) against both, the Pareto front highlighted and joined as a
                           staircase; each axis oriented so that better is up and to the right

Runs with identical curves are drawn once, labelled "N runs identical"; legends give
the runs' swept values as config.txt writes them, beside their config numbers.

Numeric symbols sit on a numeric x axis, logarithmic when the values are positive and
span two decades or more or are evenly spaced in log (1e-4, 1e-3, 1e-2); other values
(y/n, names, a choice such as `optimizer`) are categories in their sorted order, their
means not joined by a line (an order of categories means nothing).

matplotlib is imported here only, and this module only when plotting, so the runner's
summary path and `make help` never pay for it. Figures use the Agg canvas directly
(no pyplot): no GUI backend, no global figure state between calls.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from ksweep.analysis.format import display_value, format_metric, short
from ksweep.contract.records import EPOCH_KEYS, read_metrics
from ksweep.contract.text import plural
from ksweep.run.summary import is_number, varied_keys

CURVES_FILE = "learning_curves.png"
EFFECTS_FILE = "parameter_effects.png"
SEARCH_FILE = "search_progress.png"
MEANS_FILE = "means_over_seeds.png"  # not config_*: that prefix is a run folder's
PARETO_FILE = "pareto_front.png"
PLOT_FILES = (CURVES_FILE, EFFECTS_FILE, SEARCH_FILE, MEANS_FILE, PARETO_FILE)
FRONT_LABELLED = 15  # front points named beside them; more would overprint
MEANS_TOP = 20
MARKERS = ("o", "s", "^", "D", "v")
LABEL_WIDTH = 90  # characters of a legend line
CURVES_TOP = 5
MAX_TICKS = 12
DPI = 100


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib: only when plotting
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> Path:
    # Write beside the target and rename, so a viewer never shows half a PNG. The legend's
    # lines go into the PNG's Description too: what the plot shows, for a script or a test.
    tmp = path.with_name(f".{path.name}.tmp")
    legends = [
        text.get_text() for axes in figure.axes if axes.get_legend() for text in axes.get_legend().get_texts()
    ]
    figure.savefig(tmp, format="png", metadata={"Description": "\n".join(legends)})
    tmp.replace(path)
    return path


def curve_key(metric: str) -> str:
    """What the learning curves show: the metric itself when epochs record it, else val_acc."""
    return metric if metric in EPOCH_KEYS and metric not in ("epoch", "seconds") else "val_acc"


def _values_text(record: dict, axes: list[str], texts: dict) -> str:
    return ", ".join(f"{short(a)}={display_value(record.get(a), texts.get(a))}" for a in axes)


def plot_learning_curves(
    sweep_dir: Path,
    ranked: list[dict],
    metric: str,
    mode: str,
    axes: list[str] = (),
    texts: dict | None = None,
) -> Path | None:
    """learning_curves.png for the top runs; None when no run recorded the key per epoch."""

    key = curve_key(metric)
    curves: dict[tuple, list[tuple[int, dict]]] = {}  # identical curves drawn once
    for rank, record in enumerate(ranked[:CURVES_TOP], 1):
        metrics = read_metrics(sweep_dir / record["run_dir"]) or {}
        points = tuple(
            (e.get("epoch", i), e[key])
            for i, e in enumerate(metrics.get("epochs") or [], 1)
            if isinstance(e, dict) and is_number(e.get(key))
        )
        if points:
            curves.setdefault(points, []).append((rank, record))
    if not curves:
        return None
    figure = _figure(9, 5.5)
    plot = figure.add_subplot()
    for i, (points, runs) in enumerate(curves.items()):
        xs, ys = zip(*points, strict=True)
        rank, record = runs[0]
        score = format_metric(metric, record[metric], unit=False)
        values = _values_text(record, list(axes), texts or {})
        # Wrapped: with many swept axes one line would be wider than the figure (no tight layout).
        label = textwrap.fill(f"#{rank} {record['config_file']} ({metric} {score}) {values}", LABEL_WIDTH,
                              subsequent_indent="   ")  # fmt: skip
        if len(runs) > 1:
            label += f"\n   {len(runs)} runs identical: " + ", ".join(r["config_file"] for _, r in runs)
        plot.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], markersize=4, label=label)
    from matplotlib.ticker import MaxNLocator  # matplotlib: only when plotting

    plot.xaxis.set_major_locator(MaxNLocator(integer=True))
    plot.set_xlabel("epoch")
    plot.set_ylabel(key + (" (%)" if key.endswith("_acc") else ""))
    shown = sum(len(runs) for runs in curves.values())
    plot.set_title(f"{key} per epoch, top {shown} by {metric} ({mode}), {len(curves)} distinct curve(s)")
    plot.grid(True, alpha=0.3)
    plot.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return _save(figure, sweep_dir / CURVES_FILE)


def _epoch_points(sweep_dir: Path, record: dict, key: str) -> dict[int, float]:
    metrics = read_metrics(sweep_dir / record["run_dir"]) or {}
    rows = [e for e in metrics.get("epochs") or [] if isinstance(e, dict)]
    return {e.get("epoch", i): e[key] for i, e in enumerate(rows, 1) if is_number(e.get(key))}


def plot_config_curves(
    sweep_dir: Path, grouping, metric: str, mode: str, texts: dict | None = None
) -> Path | None:
    """With repeats, learning_curves.png for the top configs by their mean (as the report ranks
    them), not for lucky seeds: each config's mean curve over its seeds, the band from its worst
    to its best seed; None when no run recorded the key per epoch."""
    key = curve_key(metric)
    figure = _figure(9, 5.5)
    plot = figure.add_subplot()
    drawn = 0
    for i, group in enumerate(grouping.groups[:CURVES_TOP]):
        seeds = [_epoch_points(sweep_dir, run, key) for run in group.runs]
        epochs = sorted(set.intersection(*(set(points) for points in seeds))) if seeds else []
        if not epochs:
            continue
        means = [sum(points[e] for points in seeds) / len(seeds) for e in epochs]
        low = [min(points[e] for points in seeds) for e in epochs]
        high = [max(points[e] for points in seeds) for e in epochs]
        values = " ".join(
            f"{short(a)}={display_value(v, (texts or {}).get(a))}"
            for a, v in zip(grouping.axes, group.key, strict=True)
        )
        score = format_metric(metric, group.mean, unit=False)
        label = f"#{group.place} {values} ({metric} {score}, mean of {group.n})"
        line = plot.plot(epochs, means, marker=MARKERS[i % len(MARKERS)], markersize=4, label=label)[0]
        plot.fill_between(epochs, low, high, color=line.get_color(), alpha=0.15)
        drawn += 1
    if not drawn:
        return None
    from matplotlib.ticker import MaxNLocator  # matplotlib: only when plotting

    plot.xaxis.set_major_locator(MaxNLocator(integer=True))
    plot.set_xlabel("epoch")
    plot.set_ylabel(key + (" (%)" if key.endswith("_acc") else ""))
    plot.set_title(
        f"{key} per epoch, top {drawn} configs by their mean {metric} ({mode}); band: worst to best seed"
    )
    plot.grid(True, alpha=0.3)
    plot.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return _save(figure, sweep_dir / CURVES_FILE)


def log_scale(values: list[float]) -> bool:
    """True for positive values spanning >= 2 decades, or 3+ values evenly spaced in log."""
    values = sorted(set(values))
    if len(values) < 2 or values[0] <= 0:
        return False
    if values[-1] / values[0] >= 100:
        return True
    if len(values) < 3:
        return False
    ratios = [b / a for a, b in zip(values, values[1:], strict=False)]
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    even_ratio = all(math.isclose(r, ratios[0], rel_tol=0.05) for r in ratios)
    even_step = all(math.isclose(s, steps[0], rel_tol=0.05) for s in steps)
    return even_ratio and not even_step


def _panel(axes, symbol: str, ranked: list[dict], metric: str, mode: str, texts: dict) -> None:
    """One axis' panel: a dot per ranked run, the mean per value, every best mean starred."""

    pairs = [(r.get(symbol), r[metric]) for r in ranked if r.get(symbol) is not None]
    if not pairs:
        axes.set_visible(False)
        return
    groups: dict = {}
    for value, score in pairs:
        groups.setdefault(value, []).append(score)
    numeric = all(is_number(v) for v in groups)
    levels = sorted(groups, key=lambda v: (not is_number(v), v if is_number(v) else str(v)))
    position = {v: (v if numeric else i) for i, v in enumerate(levels)}
    # Fainter dots when there are many, so their density still shows.
    alpha = 0.35 if len(pairs) < 500 else 0.08
    axes.scatter([position[v] for v, _ in pairs], [m for _, m in pairs], s=12, alpha=alpha, label="runs")
    means = [sum(groups[v]) / len(groups[v]) for v in levels]
    xs_mean = [position[v] for v in levels]
    axes.plot(xs_mean, means, color="black", marker="s", linestyle="-" if numeric else "none", label="mean")
    best = (max if mode == "max" else min)(means)
    stars = [i for i, m in enumerate(means) if m == best]  # equal means: each is starred
    axes.plot([xs_mean[i] for i in stars], [best] * len(stars), marker="*", markersize=14,
              color="tab:red", linestyle="none", label="best mean")  # fmt: skip
    if numeric and log_scale([float(v) for v in levels]):
        axes.set_xscale("log")
        axes.minorticks_off()
    if not numeric:
        axes.set_xlim(-0.5, len(levels) - 0.5)
    if not numeric or len(levels) <= MAX_TICKS:
        # Ticks at the swept values themselves, as config.txt writes them; slanted when many.
        labels = [display_value(v, texts.get(symbol)) for v in levels]
        axes.set_xticks([position[v] for v in levels], labels, rotation=45 if len(levels) > 4 else 0)
    axes.set_xlabel(short(symbol))
    axes.set_ylabel(metric)
    axes.grid(True, alpha=0.3)


def plot_parameter_effects(
    sweep_dir: Path, ranked: list[dict], metric: str, mode: str, symbols: list[str], texts: dict | None = None
) -> Path | None:
    """parameter_effects.png, one panel per axis in the given order; None when there are none."""
    if not symbols:
        return None
    cols = min(3, len(symbols))
    rows = math.ceil(len(symbols) / cols)
    figure = _figure(4.5 * cols, 3.8 * rows)
    for i, symbol in enumerate(symbols, 1):
        _panel(figure.add_subplot(rows, cols, i), symbol, ranked, metric, mode, texts or {})
    visible = [a for a in figure.axes if a.get_visible()]
    if visible:  # the legend inside the first panel, where the eye starts
        visible[0].legend(fontsize="small", loc="best")
    figure.suptitle(f"{metric} ({mode}) by swept axis, {len(ranked)} ranked runs")
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(figure, sweep_dir / EFFECTS_FILE)


def plot_search_progress(sweep_dir: Path, records: list[dict], metric: str, mode: str) -> Path | None:
    """Best so far (completed runs) against runs in the order they were planned, and against epochs."""
    ordered = sorted(records, key=lambda r: int(r["config_file"].split("_")[1]))
    best, xs_runs, xs_epochs, ys, epochs = None, [], [], [], 0
    for number, record in enumerate(ordered, start=1):
        epochs += record.get("epochs") or 0
        value = record.get(metric)
        if record["status"] == "completed" and is_number(value):
            better = best is None or (value > best if mode == "max" else value < best)
            best = value if better else best
        if best is not None:
            xs_runs.append(number)
            xs_epochs.append(epochs)
            ys.append(best)
    if len(ys) < 2:
        return None
    figure = _figure(10, 4)
    for index, (xs, label) in enumerate(((xs_runs, "runs"), (xs_epochs, "epochs trained"))):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.step(xs, ys, where="post")
        axes.set_xlabel(label)
        axes.set_ylabel(f"best {metric} so far")
        axes.grid(alpha=0.3)
    figure.suptitle(f"{sweep_dir.name}: best {metric} so far")
    figure.tight_layout()
    return _save(figure, sweep_dir / SEARCH_FILE)


def plot_means_over_seeds(sweep_dir: Path, grouping, texts: dict) -> Path | None:
    """The top configs by mean over seeds: mean and 95% interval, every seed a dot."""
    groups = grouping.groups[:MEANS_TOP] if grouping else []
    if len(groups) < 2:
        return None
    figure = _figure(10, 1.2 + 0.4 * len(groups))
    axes = figure.add_subplot(1, 1, 1)
    for row, group in enumerate(groups):
        y = len(groups) - row
        if group.interval:
            low, high = group.interval
            axes.plot([low, high], [y, y], color="#3366cc", linewidth=2)
        axes.plot(group.values, [y] * group.n, "o", color="#999999", markersize=3)
        color = "#cc3333" if group in grouping.best_set else "#333333"
        axes.plot([group.mean], [y], "D", color=color)
    labels = [
        " ".join(
            f"{a.replace('CONFIG_', '')}={(texts.get(a) or {}).get(v, v)}"
            for a, v in zip(grouping.axes, g.key, strict=True)
        )
        for g in groups
    ]
    axes.set_yticks(range(len(groups), 0, -1), labels, fontsize=8)
    axes.set_xlabel(
        f"{grouping.metric}: mean (diamond, red: not separable from the best), 95% CI, seeds (dots)"
    )
    axes.grid(alpha=0.3, axis="x")
    figure.suptitle(f"{sweep_dir.name}: configs by mean over seeds")
    figure.tight_layout()
    return _save(figure, sweep_dir / MEANS_FILE)


def plot_pareto_front(sweep_dir: Path, front) -> Path | None:
    """pareto_front.png: every point against both metrics, the front highlighted and joined as the
    staircase that bounds what it dominates, each front point named (a run by its config number,
    a config by its row of the report's table); None without points. A min metric's axis is
    turned over, so better is always up and to the right (the arrows in the labels)."""
    if front is None or not front.points:
        return None
    (x_key, x_mode), (y_key, y_mode) = front.objectives
    figure = _figure(9, 6)
    axes = figure.add_subplot()
    unit = front.unit + ("s, each by its means over seeds" if front.by_config else "s")
    axes.scatter([p[x_key] for p in front.points], [p[y_key] for p in front.points], s=18, alpha=0.5,
                 color="#888888", label=f"all {len(front.points)} completed {unit}")  # fmt: skip
    xs, ys = [p[x_key] for p in front.front], [p[y_key] for p in front.front]
    steps_x, steps_y = [xs[0]], [ys[0]]
    for x, y, previous_y in zip(xs[1:], ys[1:], ys, strict=False):  # the corner, then the next point
        steps_x += [x, x]
        steps_y += [previous_y, y]
    axes.plot(steps_x, steps_y, color="tab:red", linewidth=1.2, alpha=0.8)
    shown = f"Pareto front: {plural(len(front.front), front.unit)}"
    axes.scatter(xs, ys, s=46, color="tab:red", zorder=3, label=shown)
    names: dict[tuple, list[str]] = {}  # points with the same values (a tie) share one label
    for number, point in enumerate(front.front, 1):  # a config by its row of the table
        name = f"#{number}" if front.by_config else point["config_file"]
        names.setdefault((point[x_key], point[y_key]), []).append(name)
    for place, shared in list(names.items())[:FRONT_LABELLED]:
        label = axes.annotate(", ".join(shared), place, xytext=(4, 4), textcoords="offset points", fontsize=7)
        label.set_in_layout(False)  # a label near the edge must not squeeze the plot
    axes.margins(0.1)  # room for the names of the points at the edges
    if x_mode == "min":
        axes.invert_xaxis()
    if y_mode == "min":
        axes.invert_yaxis()
    better = {"max": "higher is better", "min": "lower is better"}  # not "(min)": read as minutes
    axes.set_xlabel(f"{x_key} ({better[x_mode]}) →")
    axes.set_ylabel(f"{y_key} ({better[y_mode]}) →")
    named = "; #N: its row in PARETO FRONT" if front.by_config else ""
    axes.set_title(
        f"{sweep_dir.name}: Pareto front of {x_key} and {y_key}\n(better: up and to the right{named})"
    )
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return _save(figure, sweep_dir / PARETO_FILE)


def write_plots(
    sweep_dir: Path | str,
    records: list[dict],
    ranked: list[dict],
    metric: str,
    mode: str,
    symbols: list[str] | None = None,
    texts: dict | None = None,
    search: bool = False,
    grouping=None,
    front=None,
) -> tuple[Path, ...]:
    """Write every plot that has something to show; return their paths.

    `symbols` are the swept axes in panel order (analyze passes the report's order,
    largest effect first; default every varied symbol by name); `texts` maps each
    axis' values to their text as config.txt writes them (ksweep.run.summary.value_texts).
    """
    sweep_dir = Path(sweep_dir)
    symbols = symbols or varied_keys(records)
    paths = (
        plot_config_curves(sweep_dir, grouping, metric, mode, texts)
        if grouping
        else plot_learning_curves(sweep_dir, ranked, metric, mode, symbols, texts),
        plot_parameter_effects(sweep_dir, ranked, metric, mode, symbols, texts),
        plot_search_progress(sweep_dir, records, metric, mode) if search else None,
        plot_means_over_seeds(sweep_dir, grouping, texts or {}),
        plot_pareto_front(sweep_dir, front),
    )
    return tuple(p for p in paths if p is not None)
