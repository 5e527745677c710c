"""Range defconfig → axes: one axis per symbol, each value keeping its file:line.

A range defconfig is a defconfig whose values may list several choices or a range:

    CONFIG_ADAMWPRUNE_BETA2=0.999             single value
    CONFIG_ADAMWPRUNE_BETA1=0.85|0.87|0.89    choices, in order
    CONFIG_WEIGHT_DECAY=0.03:0.02:0.09        range, end inclusive: 0.03 0.05 0.07 0.09
    CONFIG_LEARNING_RATE=1e-5:*10:1e-2        log range, multiply by the step: 1e-05 ... 0.01
    CONFIG_WEIGHT_DECAY=0.01~0.1              continuous, uniform, both bounds included (a search only)
    CONFIG_LEARNING_RATE=1e-5~*1e-2           continuous, log-uniform (a search only)
    # CONFIG_SGD_NESTEROV is not set          kernel spelling of =n

`#` starts a comment, also after a value (outside quotes). Ranges use exact decimal
arithmetic and print as Python prints the float (`1e-05`, `0.6`), never `0.00` or
`0.6000000000000001`; ranges whose parts are all integers stay integers. A value
given twice in one line (`32|32`, or `1e-3|0.001`: numbers compare by value) is refused.

The same reader reads plain defconfigs and .config files (ksweep.config.kconf.read_config:
`make defconfig`, `make olddefconfig` and the trainer), so a line means one thing
everywhere: string values may be quoted or not (`CONFIG_LEARNING_RATE=0.01` is
"0.01"), a trailing `# comment` is dropped, and a line that is not an assignment is an
error that says why (`(no spaces around =)`, a byte-order mark, a lower-case prefix).

This module only reads the file. Whether a value suits its symbol is kconf's job;
what the axes expand to is generate's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

_ASSIGNMENT = re.compile(r"^CONFIG_(?P<name>[A-Za-z0-9_]+)=(?P<value>.*)$")
_NOT_SET = re.compile(r"^#\s*CONFIG_(?P<name>[A-Za-z0-9_]+) is not set\s*$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_UNESCAPE = re.compile(r"\\(.)")  # kconfiglib writes \" and \\ inside quoted strings
MAX_RANGE_VALUES = 100_000
CONTINUOUS = ("uniform", "loguniform")  # an Axis kind whose values are (low, high)


class RangeFileError(Exception):
    """A problem in a range file, located as `file:line: CONFIG_SYMBOL: reason`."""

    def __init__(self, path: str, line: int, symbol: str | None, reason: str):
        self.path, self.line, self.symbol, self.reason = path, line, symbol, reason
        where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(where + (f"{symbol}: " if symbol else "") + reason)


@dataclass(frozen=True)
class Axis:
    """One symbol of a range file and the values it takes, in file order."""

    name: str  # without CONFIG_
    values: tuple[str, ...]  # unquoted
    path: str
    line: int
    quoted: bool = False  # the user wrote the values in quotes
    # How it was written: "choice" (a|b, or one value), "range" (start:step:end), "log"
    # (start:*factor:end), "uniform" (low~high) or "loguniform" (low~*high): values (low, high).
    kind: str = "choice"

    @property
    def symbol(self) -> str:
        return "CONFIG_" + self.name

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def is_swept(self) -> bool:
        return len(self.values) > 1


def parse_range_file(path: Path | str) -> list[Axis]:
    """Read a range defconfig; raise RangeFileError at the first line that is not valid."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RangeFileError(path, 0, None, f"cannot read: {err.strerror or err}") from None
    return parse_range_text(text, path)


def parse_range_text(text: str, path: str = "<range>") -> list[Axis]:
    """The axes of a range file's text; raise RangeFileError at its first bad line."""
    axes, errors = read_lines(text, path)
    if errors:
        raise errors[0]
    return axes


def read_lines(text: str, path: str = "<range>") -> tuple[list[Axis], list[RangeFileError]]:
    """Every good line's axis, in file order, and an error for every bad line (all of them)."""
    axes: dict[str, Axis] = {}
    errors: list[RangeFileError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            axis = _parse_line(raw, path, number)
        except RangeFileError as err:
            errors.append(err)
            continue
        if axis is None:
            continue
        if axis.name in axes:
            first = axes[axis.name]
            errors.append(
                RangeFileError(path, number, axis.symbol, f"given twice (first at line {first.line})")
            )
            continue
        axes[axis.name] = axis
    return list(axes.values()), errors


def _parse_line(raw: str, path: str, number: int) -> Axis | None:
    if raw.startswith("\ufeff"):
        reason = "the file starts with a UTF-8 byte-order mark: remove it (save as UTF-8 without BOM)"
        raise RangeFileError(path, number, None, reason)
    not_set = _NOT_SET.match(raw.strip())
    if not_set:
        return Axis(not_set["name"], ("n",), path, number)
    line = strip_comment(raw).strip()
    if not line:
        return None
    match = _ASSIGNMENT.match(line)
    if not match:
        reason = f"expected CONFIG_NAME=value, got {line!r}{_line_hint(line)}"
        raise RangeFileError(path, number, None, reason)
    symbol = "CONFIG_" + match["name"]
    values, quoted, kind = _parse_values(match["value"].strip(), path, number, symbol)
    return Axis(match["name"], values, path, number, quoted, kind)


def _line_hint(line: str) -> str:
    if re.match(r"^CONFIG_\w+\s+=|^CONFIG_\w+=\s", line):
        return " (no spaces around =)"
    lower = re.match(r"^(?i:config_)(\w+)\s*=", line)
    if lower:
        return f" (did you mean CONFIG_{lower[1].upper()}? symbols are upper case)"
    return ""


def strip_comment(line: str) -> str:
    """`line` without a trailing `# comment` (a # inside double quotes is kept)."""
    in_quotes = False
    for i, char in enumerate(line):
        if char == '"' and (i == 0 or line[i - 1] != "\\"):
            in_quotes = not in_quotes
        elif char == "#" and not in_quotes:
            return line[:i]
    return line


def _split_choices(value: str) -> list[str]:
    parts, current, in_quotes = [], [], False
    for char in value:
        if char == '"':
            in_quotes = not in_quotes
        if char == "|" and not in_quotes:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def _parse_values(value: str, path: str, number: int, symbol: str) -> tuple[tuple[str, ...], bool, str]:
    def fail(reason: str) -> RangeFileError:
        return RangeFileError(path, number, symbol, reason)

    if value == "":
        raise fail("empty value")
    parts = _split_choices(value)
    if any(part == "" for part in parts):
        raise fail(f"empty choice in {value!r}")
    quoted = all(len(p) >= 2 and p[0] == p[-1] == '"' for p in parts)
    if any(p.startswith('"') for p in parts) and not quoted:
        raise fail(f"unbalanced quotes in {value!r}")
    if quoted:
        values = tuple(_UNESCAPE.sub(r"\1", p[1:-1]) for p in parts)
        _check_no_duplicates(values, fail)
        return values, True, "choice"
    if "~" in value and not quoted:
        if len(parts) > 1:
            raise fail(f"a continuous range stands alone, not in a choice list: {value!r}")
        return continuous_range(parts[0], fail)
    if len(parts) == 1 and parts[0].count(":") == 2:
        kind = "log" if parts[0].split(":")[1].strip().startswith("*") else "range"
        return expand_range(parts[0], fail), False, kind
    if len(parts) == 1 and parts[0].count(":") == 1 and all(_NUMBER.match(p) for p in parts[0].split(":")):
        raise fail(f"a range needs start:step:end, got {parts[0]!r}")
    _check_no_duplicates(tuple(parts), fail)
    return tuple(parts), False, "choice"


def _check_no_duplicates(values: tuple[str, ...], fail) -> None:
    """Each value once: `32|32|64` or `1e-3|0.001` would train one config twice."""
    seen: dict[object, str] = {}
    for value in values:
        key: object = Decimal(value.strip()) if _NUMBER.match(value) else value
        if key in seen:
            first = seen[key]
            same = f"{value} is given twice" if first == value else f"{first} and {value} are one value"
            raise fail(f"{same}: give each value once")
        seen[key] = value


def expand_range(text: str, fail=ValueError) -> tuple[str, ...]:
    """`start:step:end` (or `start:*factor:end`) → its values, end inclusive."""
    start_text, step_text, end_text = (part.strip() for part in text.split(":"))
    multiply = step_text.startswith("*")
    if multiply:
        step_text = step_text[1:].strip()
    try:
        start, step, end = (Decimal(t) for t in (start_text, step_text, end_text))
    except InvalidOperation:
        raise fail(f"range parts must be numbers: {text!r}") from None
    if not all(d.is_finite() for d in (start, step, end)):
        raise fail(f"range parts must be finite numbers: {text!r}")
    if multiply and (step <= 1 or start <= 0):
        raise fail(f"log range needs a positive start and a factor above 1: {text!r}")
    if not multiply and step <= 0:
        raise fail(f"range step must be positive, got {step_text} (the range would never reach {end_text})")
    if start > end:
        raise fail(f"range start {start_text} lies after its end {end_text}")
    values = []
    current = start
    while current <= end:
        values.append(current)
        if len(values) > MAX_RANGE_VALUES:
            raise fail(f"range {text!r} has more than {MAX_RANGE_VALUES} values")
        current = current * step if multiply else current + step
    return tuple(format_number(v) for v in values)


def continuous_range(text: str, fail=ValueError) -> tuple[tuple[str, ...], bool, str]:
    """`low~high` (uniform) or `low~*high` (log-uniform) → ((low, high), False, kind)."""
    low_text, _, high_text = (part.strip() for part in text.partition("~"))
    log = high_text.startswith("*")
    high_text = high_text.removeprefix("*").strip()
    if not (_NUMBER.match(low_text) and _NUMBER.match(high_text)):
        raise fail(f"a continuous range needs two numbers, low~high (or low~*high): {text!r}")
    low, high = Decimal(low_text), Decimal(high_text)
    if low >= high:
        raise fail(f"a continuous range's low {low_text} must be below its high {high_text}")
    if log and low <= 0:
        raise fail(f"a log-uniform range (~*) needs a positive low, got {low_text}")
    return (format_number(low), format_number(high)), False, "loguniform" if log else "uniform"


def format_number(value: Decimal) -> str:
    """How a person writes this number: 2 for a whole number, else Python's shortest float
    repr (1e-05, 0.6), never 0.6000000000000001."""
    if value == value.to_integral_value() and abs(value) < 10**15:
        return str(int(value))
    return repr(float(value))
