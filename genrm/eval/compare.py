"""Several judges on the same pairs: the comparison table, paired significance tests, the chart.

`methods` maps a method name to {split: EvalResult} (every method judged the same pairs of each
split). Differences are tested pair by pair (genrm.stats.paired_test: exact sign test, = exact
McNemar for 0/1 credits), never by overlapping intervals: the table of every pair of methods
within a split with Holm's correction over all those pairs (`tests`), the one-line conclusion with
Holm's correction over the claims it states (`conclusion`: the hypotheses named before the run).
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from genrm.eval.report import Panel, fmt_score, md_table
from genrm.stats import holm, paired_test
from genrm.types import EvalResult


def credits(result: EvalResult) -> dict[str, float]:
    return {e.get("key", e["id"]): e["correct"] for e in result.examples}


def tests(methods: dict[str, dict[str, EvalResult]], split: str) -> list[dict]:
    """Every pair of methods with results on `split`: the paired test and whether it survives Holm."""
    names = [m for m, r in methods.items() if split in r]
    return _corrected([_paired(methods, split, a, b) for a, b in combinations(names, 2)])


def _paired(methods: dict[str, dict[str, EvalResult]], split: str, a: str, b: str) -> dict:
    ca, cb = credits(methods[a][split]), credits(methods[b][split])
    if set(ca) != set(cb):
        raise ValueError(f"{a} and {b} judged different {split} pairs: no paired test")
    keys = sorted(ca)
    return {"a": a, "b": b, "test": paired_test([ca[k] for k in keys], [cb[k] for k in keys])}


def _corrected(rows: list[dict]) -> list[dict]:
    """The rows, each marked significant or not by Holm's correction over all of them."""
    for row, significant in zip(rows, holm([r["test"].p for r in rows])):
        row["significant"] = significant
    return rows


def verdict(row: dict) -> str:
    """"A > B (p=...)" or "A vs B: no significant difference (p=...)", naming row["a"] first."""
    t = row["test"]
    a, b, diff = row["a"], row["b"], t.diff
    diff = 0.0 if abs(diff) < 5e-4 else diff  # no "-0.0 points"
    if not row["significant"]:
        return f"{a} vs {b}: no significant difference ({100 * diff:+.1f} points, p={t.p:.2g})"
    return f"{a} {'>' if diff > 0 else '<'} {b} ({100 * diff:+.1f} points, p={t.p:.2g})"


def test_rows(rows: Sequence[dict]) -> list[list[str]]:
    return [[r["a"], r["b"], f"{100 * r['test'].diff:+.1f}", f"{r['test'].wins}/{r['test'].losses}", f"{r['test'].p:.3g}",
             "yes" if r["significant"] else "no"] for r in rows]


TEST_COLUMNS = ("A", "B", "A - B (points)", "pairs A better / B better", "p (exact sign test)", "significant (Holm, 5%)")


def conclusion(methods: dict[str, dict[str, EvalResult]], split: str, claims: Sequence[tuple[str, str]]) -> str:
    """One line: for each (better, worse) claim whose two methods have results on `split`, what the
    paired test says, significant when it survives Holm's correction over those claims."""
    ran = [(a, b) for a, b in claims if split in methods.get(a, {}) and split in methods.get(b, {})]
    if not ran:
        return ""
    rows = _corrected([_paired(methods, split, a, b) for a, b in ran])
    return "; ".join(verdict(row) for row in rows) + f" (Holm over these {len(rows)} claims)"


def table_rows(methods: dict[str, dict[str, EvalResult]], splits: Sequence[str], seconds: dict[str, float]) -> list[list[str]]:
    rows = []
    for name, results in methods.items():
        row = [name] + [fmt_score(results.get(split)) for split in splits]
        rows.append(row + [f"{seconds.get(name, 0):.0f}"])
    return rows


def markdown(methods: dict[str, dict[str, EvalResult]], splits: dict[str, str], seconds: dict[str, float]) -> str:
    """The table (accuracy % [Wilson 95% CI], n per split) and, per split, every paired test."""
    ns = {split: next((r[split].n for r in methods.values() if split in r), "?") for split in splits}
    cols = ["method"] + [f"{label}, n={ns[split]}" for split, label in splits.items()] + ["s"]
    parts = [md_table(cols, table_rows(methods, list(splits), seconds)), ""]
    for split, label in splits.items():
        parts += [f"### Paired tests on {label} (same {ns[split]} pairs)", "",
                  md_table(TEST_COLUMNS, test_rows(tests(methods, split))), ""]
    return "\n".join(parts)


def method_panel(methods: dict[str, dict[str, EvalResult]], splits: dict[str, str], title: str) -> Panel:
    names = list(methods)
    series = {label: [(methods[m][split].accuracy, methods[m][split].ci95) if split in methods[m] else (None, None)
                      for m in names] for split, label in splits.items()}
    return Panel(title, names, series)
