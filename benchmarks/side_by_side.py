"""The table the agreement scripts print: each figure from genrm and from the official code, side by side."""
from __future__ import annotations

from collections.abc import Callable


def compare(title: str, lines: list[tuple[str, float, float]], tolerance: float, name_width: int = 28,
            cell: Callable[[float], str] = lambda v: f"{v!r:>20}") -> bool:
    """Print `title` and one line per (figure, genrm, official); True when every pair is within `tolerance`."""
    print(f"\n{title}")
    print(f"  {'figure':<{name_width}} {'genrm':>{len(cell(0.0))}} {'official':>{len(cell(0.0))}}  agree")
    ok = True
    for name, ours, theirs in lines:
        same = abs(ours - theirs) <= tolerance
        ok &= same
        print(f"  {name:<{name_width}} {cell(ours)} {cell(theirs)}  {'yes' if same else 'NO'}")
    return ok
