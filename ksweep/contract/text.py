"""Small wording helpers every message uses."""


def plural(count: int, noun: str) -> str:
    """`1 run`, `3 runs`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def first_line(err: BaseException) -> str:
    """An exception's first line (its type when it has no message), at most 300 characters."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
