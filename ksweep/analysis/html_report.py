"""sweep_report.html: the analysis as one self-contained page beside sweep_analysis.txt.

No server and no network: the styles, a few lines of script (click a column heading to
sort a table) and the plots (PNG, base64) are inside the file. The sections are the text
report's, from the same ReportContext: the header facts, the best configuration, with
repeats the configs by their mean over seeds with each 95% interval drawn to scale, every
ranked run (each linked to its folder's config.txt, output.log and training_metrics.json),
with two metrics their Pareto front (its plot and its table), the parameter effects, and the
failed, pruned and unfinished runs.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ksweep.analysis import report
from ksweep.analysis.format import display_value, format_metric, short
from ksweep.analysis.pareto import front_text
from ksweep.analysis.plots import PARETO_FILE
from ksweep.analysis.ranking import competition_ranks, finite
from ksweep.analysis.report import ReportContext
from ksweep.contract.records import write_atomic
from ksweep.contract.state import FAILURES, FINISHED, PRUNED

HTML_FILE = "sweep_report.html"
RUN_FILES = ("config.txt", "output.log", "training_metrics.json")

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}
th{cursor:pointer;background:#f5f5f5;user-select:none}th:hover{background:#e8e8e8}
td.num{text-align:right}pre{background:#f8f8f8;padding:.8em;overflow-x:auto}
.best{background:#eef8ee}.ci{display:block}img{max-width:100%;border:1px solid #ddd}
ul.facts{list-style:none;padding:0}ul.facts li{margin:.1em 0}
"""

# Click a heading: sort that table by its column (numbers as numbers), again to reverse.
SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var up = th.dataset.order !== 'up';
      th.dataset.order = up ? 'up' : 'down';
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.v || a.cells[column].textContent;
        var y = b.cells[column].dataset.v || b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def write_html(ctx: ReportContext) -> Path:
    path = ctx.sweep_dir / HTML_FILE
    write_atomic(path, build_html(ctx))
    return path


def build_html(ctx: ReportContext) -> str:
    sections = [
        _facts(ctx),
        _pre("Best configuration", report.best_lines(ctx)[2:]),
        _groups(ctx),
        _runs(ctx),
        _front(ctx),
        _effects(ctx),
        _plots(ctx),
        _problems(ctx),
    ]
    title = f"Sweep {ctx.sweep_dir.name}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>{''.join(s for s in sections if s)}<script>{SCRIPT}</script></body></html>\n"
    )


def _e(text) -> str:
    return html.escape(str(text))


def _facts(ctx: ReportContext) -> str:
    lines = [line for line in report.header_lines(ctx)[3:] if line.strip()]
    return "<ul class='facts'>" + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"


def _pre(title: str, lines: list[str]) -> str:
    text = "\n".join(lines).strip()
    return f"<h2>{_e(title)}</h2><pre>{_e(text)}</pre>" if text else ""


def _table(headers: list[str], rows: list[list[tuple[str, str | None]]], classes=None) -> str:
    """rows of (html of the cell, its sort value or None)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for number, row in enumerate(rows):
        cls = f" class='{classes[number]}'" if classes and classes[number] else ""
        cells = "".join(
            f"<td class='num' data-v='{_e(v)}'>{cell}</td>" if v is not None else f"<td>{cell}</td>"
            for cell, v in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(name: str, value) -> tuple[str, str | None]:
    text = format_metric(name, value, unit=False)
    return _e(text), (str(value) if text != "n/a" else "")


def _run_link(ctx: ReportContext, run: dict) -> str:
    links = " ".join(
        f"<a href='{_e(run['run_dir'])}/{name}'>{_e(name.split('.')[0])}</a>" for name in RUN_FILES
    )
    return f"<a href='{_e(run['run_dir'])}/'>{_e(run['config_file'])}</a> <small>({links})</small>"


def _groups(ctx: ReportContext) -> str:
    grouping = ctx.grouping
    if not grouping:
        return ""
    intervals = [g.interval for g in grouping.groups if g.interval]
    low = min([i[0] for i in intervals] + [g.mean for g in grouping.groups])
    high = max([i[1] for i in intervals] + [g.mean for g in grouping.groups])
    span = (high - low) or 1.0
    rows, classes = [], []
    for group in grouping.groups:
        interval = group.interval
        ci_text = group.interval_text()
        rows.append(
            [
                (_e(group.place), None),
                (f"{group.mean:.2f}", f"{group.mean}"),
                (f"{group.sd:.2f}" if group.sd is not None else "-", f"{group.sd or 0}"),
                (f"{ci_text}{_interval_svg(group, low, span)}", f"{interval[0] if interval else group.mean}"),
                (str(group.n), str(group.n)),
                *(
                    (_e(display_value(v, ctx.texts.get(a))), None)
                    for a, v in zip(grouping.axes, group.key, strict=True)
                ),
                (", ".join(_run_link(ctx, r) for r in group.runs), None),
            ]
        )
        classes.append("best" if group in grouping.best_set else "")
    headers = ["#", "mean", "sd", "95% CI", "seeds", *(short(a) for a in grouping.axes), "runs"]
    note = (
        f"<p>{_e(ctx.metric)} over each config's seeds: mean, standard deviation, 95% confidence interval "
        "of the mean (Student's t), drawn to scale; shaded: cannot be told apart from the best "
        "(Welch's t-test, p &ge; 0.05).</p>"
    )
    return "<h2>Configs by mean over seeds</h2>" + note + _table(headers, rows, classes)


def _interval_svg(group, low: float, span: float) -> str:
    width = 160

    def x(value: float) -> float:
        return 5 + (value - low) / span * (width - 10)

    parts = []
    if group.interval:
        a, b = (x(v) for v in group.interval)
        parts.append(f"<line x1='{a:.1f}' x2='{b:.1f}' y1='7' y2='7' stroke='#36c' stroke-width='2'/>")
    parts.append(f"<circle cx='{x(group.mean):.1f}' cy='7' r='3' fill='#c33'/>")
    return f"<svg class='ci' width='{width}' height='14' role='img'>{''.join(parts)}</svg>"


def _runs(ctx: ReportContext) -> str:
    if not ctx.ranked:
        return "<h2>Ranked runs</h2><p>No completed run to rank.</p>"
    metrics = report._metric_columns(ctx)
    places = report_places(ctx)
    rows = []
    for place, run in zip(places, ctx.ranked, strict=False):
        rows.append(
            [
                (_e(place), str(len(rows) + 1)),
                (_run_link(ctx, run), None),
                *(_number(m, run.get(m)) for m in metrics),
                *((_e(display_value(run.get(s), ctx.texts.get(s))), None) for s in ctx.varied),
            ]
        )
    headers = ["#", "run", *metrics, *(short(s) for s in ctx.varied)]
    return f"<h2>Ranked runs ({len(rows)})</h2>" + _table(headers, rows)


def report_places(ctx: ReportContext) -> list[str]:
    return competition_ranks(ctx.ranked, ctx.metric)


def _front(ctx: ReportContext) -> str:
    """With two metrics: the Pareto front's plot and its points, as the text report lists them."""
    front = ctx.front
    if front is None:
        return ""
    metrics = [metric for metric, _ in front.objectives]
    axes = front.axes if front.by_config else ctx.varied
    rows = []
    for number, point in enumerate(front.front, 1):
        values = [_number(metric, point[metric]) for metric in metrics]
        swept = [(_e(display_value(point.get(a), ctx.texts.get(a))), None) for a in axes]
        if front.by_config:
            runs = ", ".join(_run_link(ctx, run) for run in point["runs"])
            rows.append([(str(number), str(number)), *values, (str(point["n"]), str(point["n"])), *swept,
                         (runs, None)])  # fmt: skip
        else:
            rows.append([(str(number), str(number)), (_run_link(ctx, point), None), *values, *swept])
    names = [short(axis) for axis in axes]
    headers = ["#", *metrics, "seeds", *names, "runs"] if front.by_config else ["#", "run", *metrics, *names]
    unit = "config (each by its means over seeds)" if front.by_config else "run"
    note = (
        f"<p>{_e(front_text(front))}: no other completed {unit} is at least as good on both and better "
        f"on one; best {_e(metrics[0])} first.</p>"
    )
    plot = next((_image(path) for path in ctx.plots if Path(path).name == PARETO_FILE), "")
    return "<h2>Pareto front</h2>" + note + plot + (_table(headers, rows) if rows else "")


def _effects(ctx: ReportContext) -> str:
    if not ctx.effects:
        return ""
    parts = ["<h2>Parameter effects</h2>"]
    for axis, table in ctx.effects.items():
        rows = [
            [
                (_e(display_value(value, ctx.texts.get(axis))), None),
                (str(int(row["runs"])), str(int(row["runs"]))),
                (str(int(row["ranked"])), str(int(row["ranked"]))),
            ]
            + [_number(ctx.metric, finite(row[c])) for c in ("mean", "best", "worst")]
            for value, row in table.iterrows()
        ]
        headers = ["value", report.effects_unit(ctx), "ranked", "mean", "best", "worst"]  # as the text report
        parts.append(f"<h3>{_e(short(axis))}</h3>" + _table(headers, rows))
    return "".join(parts)


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<p><img alt='{_e(Path(path).stem)}' src='data:image/png;base64,{data}'></p>"


def _plots(ctx: ReportContext) -> str:
    images = [_image(path) for path in ctx.plots if Path(path).name != PARETO_FILE]  # in its own section
    return "<h2>Plots</h2>" + "".join(images) if images else ""


def _problems(ctx: ReportContext) -> str:
    parts = []
    for title, wanted in (
        ("Failed runs", lambda r: r["status"] in FAILURES),
        ("Pruned runs", lambda r: r["status"] == PRUNED),
        ("Unfinished runs", lambda r: r["status"] not in FINISHED),
    ):
        runs = [r for r in ctx.records if wanted(r)]
        if runs:
            items = "".join(
                f"<li>{_run_link(ctx, r)} {_e(r['status'])}: {_e(r.get('error') or '')}</li>" for r in runs
            )
            parts.append(f"<h2>{_e(title)} ({len(runs)})</h2><ul>{items}</ul>")
    return "".join(parts)
