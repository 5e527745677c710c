"""The analysis plots: PNG files beside sweep_analysis.txt.

    learning_curves.png    the ranking metric per epoch (val_acc when the metric is not a
                           per-epoch one) of the top 5 runs: did they converge, or stop early?
    parameter_effects.png  one panel per swept symbol: every ranked run's metric (dots) and
                           the mean per value (line), the best value marked

Numeric symbols sit on a numeric x axis, logarithmic when the values are positive and
span two decades or more or are evenly spaced in log (1e-4, 1e-3, 1e-2); other values
(y/n, names) are categories in their sorted order.

matplotlib is imported here only, and this module only when plotting, so the runner's
summary path and `make help` never pay for it. Figures use the Agg canvas directly
(no pyplot): no GUI backend, no global figure state between calls.
"""

from __future__ import annotations

import math
from pathlib import Path

from ksweep.records import EPOCH_KEYS, read_metrics
from ksweep.summary import is_number, varied_keys

CURVES_FILE = "learning_curves.png"
EFFECTS_FILE = "parameter_effects.png"
CURVES_TOP = 5
MAX_TICKS = 12
DPI = 100


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> Path:
    # Write beside the target and rename, so a viewer never shows half a PNG.
    tmp = path.with_name(f".{path.name}.tmp")
    figure.savefig(tmp, format="png")
    tmp.replace(path)
    return path


def curve_key(metric: str) -> str:
    """What the learning curves show: the metric itself when epochs record it, else val_acc."""
    return metric if metric in EPOCH_KEYS and metric not in ("epoch", "seconds") else "val_acc"


def plot_learning_curves(sweep_dir: Path, ranked: list[dict], metric: str, mode: str) -> Path | None:
    """learning_curves.png for the top runs; None when no run recorded the key per epoch."""
    key = curve_key(metric)
    figure = _figure(8, 5)
    axes = figure.add_subplot()
    drawn = 0
    for rank, record in enumerate(ranked[:CURVES_TOP], 1):
        metrics = read_metrics(sweep_dir / record["run_dir"]) or {}
        points = [
            (e.get("epoch", i), e[key])
            for i, e in enumerate(metrics.get("epochs") or [], 1)
            if isinstance(e, dict) and is_number(e.get(key))
        ]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        label = f"#{rank} {record['config_file']} ({metric} {record[metric]:.4g})"
        axes.plot(xs, ys, marker="o", markersize=3, label=label)
        drawn += 1
    if not drawn:
        return None
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(key + (" (%)" if key.endswith("_acc") else ""))
    axes.set_title(f"{key} per epoch, top {drawn} by {metric} ({mode})")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
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


def _panel(axes, symbol: str, ranked: list[dict], metric: str, mode: str) -> None:
    """One symbol's panel: a dot per ranked run, the mean per value, the best mean marked."""
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
    axes.plot(xs_mean, means, color="black", marker="s", label="mean")
    best = (max if mode == "max" else min)(range(len(means)), key=means.__getitem__)
    axes.plot([xs_mean[best]], [means[best]], marker="*", markersize=14, color="tab:red", label="best mean")
    if numeric and log_scale([float(v) for v in levels]):
        axes.set_xscale("log")
        axes.minorticks_off()
    if not numeric or len(levels) <= MAX_TICKS:
        # Ticks at the swept values themselves: a grid of 32/64 reads better than 35..65.
        axes.set_xticks([position[v] for v in levels], [str(v) for v in levels])
    axes.set_xlabel(symbol.removeprefix("CONFIG_"))
    axes.set_ylabel(metric)
    axes.grid(True, alpha=0.3)


def plot_parameter_effects(
    sweep_dir: Path, ranked: list[dict], metric: str, mode: str, symbols: list[str]
) -> Path | None:
    """parameter_effects.png, one panel per symbol in the given order; None when there are none."""
    if not symbols:
        return None
    cols = min(3, len(symbols))
    rows = math.ceil(len(symbols) / cols)
    figure = _figure(4.5 * cols, 3.6 * rows)
    for i, symbol in enumerate(symbols, 1):
        _panel(figure.add_subplot(rows, cols, i), symbol, ranked, metric, mode)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", fontsize="small")
    figure.suptitle(f"{metric} ({mode}) by swept symbol, {len(ranked)} ranked runs")
    figure.tight_layout(rect=(0, 0, 0.92, 0.95))
    return _save(figure, sweep_dir / EFFECTS_FILE)


def write_plots(
    sweep_dir: Path | str,
    records: list[dict],
    ranked: list[dict],
    metric: str,
    mode: str,
    symbols: list[str] | None = None,
) -> tuple[Path, ...]:
    """Write every plot that has something to show; return their paths.

    `symbols` orders the effect panels (analyze passes the report's order, largest
    effect first); by default every varied symbol by name.
    """
    sweep_dir = Path(sweep_dir)
    paths = (
        plot_learning_curves(sweep_dir, ranked, metric, mode),
        plot_parameter_effects(sweep_dir, ranked, metric, mode, symbols or varied_keys(records)),
    )
    return tuple(p for p in paths if p is not None)
