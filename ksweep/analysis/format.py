"""How values read in every report: symbol values as config.txt writes them, metrics one
precision per kind."""

from __future__ import annotations

from ksweep.run.summary import is_number


def display_value(value, texts: dict | None = None) -> str:
    """A symbol value as config.txt writes it (`3e-4`, `0`, `y`, `state`), given the sweep's texts;
    else as Python prints it; `(unset)` when inactive."""
    if hasattr(value, "item"):  # numpy / pandas scalars
        value = value.item()
    if value is None or value != value:
        return "(unset)"
    if texts:
        try:
            return texts.get(value, str(value))
        except TypeError:  # unhashable
            return str(value)
    return str(value)


def format_metric(name: str, value, unit: bool = True) -> str:
    """A metric for people, one precision per kind: accuracies `88.51` (%), losses `0.4123`,
    sparsity `0.700` in tables (`70.0%` with unit), times `1842.3` (s), counts whole, else 4 digits."""
    if value is None or not is_number(value) or value != value:
        return "n/a"
    if name.endswith("_acc"):
        return f"{value:.2f}" + ("%" if unit else "")
    if "sparsity" in name:
        return f"{100 * value:.1f}%" if unit else f"{value:.3f}"
    if name.endswith(("_time", "_seconds")):
        return f"{value:.1f}" + (" s" if unit else "")
    if isinstance(value, int):
        return str(value)
    if "loss" in name:
        return f"{value:.4f}"
    return f"{value:.4g}"


def short(symbol: str) -> str:
    """A symbol's name without CONFIG_, for table headers."""
    return symbol.removeprefix("CONFIG_")
