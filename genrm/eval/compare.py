"""Several judges on the same pairs: the comparison table, paired significance tests, the chart.

`methods` maps a method name to {split: EvalResult} (every method judged the same pairs of each
split). Differences are tested pair by pair (genrm.stats.paired_test: exact sign test, = exact
McNemar for 0/1 credits), never by overlapping intervals: the table of every pair of methods
within a split with Holm's correction over all those pairs (`tests`).

Claims (`Claim`) are hypotheses fixed before a run. `claim_tests` tests each on each split named,
on per-prompt units (pairs that share a prompt are not independent: genrm.stats.clustered_test),
with Holm's correction over the whole list; `conclusion` states them in one line. Over several
independent runs (data seeds) the prompts of all runs are pooled as the units of one test per claim.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from genrm.eval.report import Panel, fmt_score, md_table
from genrm.stats import clustered_test, holm, paired_test
from genrm.types import EvalResult

RELATIONS = (">", ">=", "vs")


@dataclass(frozen=True)
class Claim:
    """`a` `relation` `b`: ">" a is better than b; ">=" a is not worse than b; "vs" the difference
    a - b with its interval, no direction claimed."""

    a: str
    relation: str
    b: str

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"claim relation {self.relation!r} is not one of {RELATIONS}")

    def __str__(self) -> str:
        return f"{self.a} {'≥' if self.relation == '>=' else self.relation} {self.b}"


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


def test_rows(rows: Sequence[dict]) -> list[list[str]]:
    return [[r["a"], r["b"], f"{100 * r['test'].diff:+.1f}", f"{r['test'].wins}/{r['test'].losses}", f"{r['test'].p:.3g}",
             "yes" if r["significant"] else "no"] for r in rows]


TEST_COLUMNS = ("A", "B", "A - B (points)", "pairs A better / B better", "p (exact sign test)", "significant (Holm, 5%)")


def units(result: EvalResult) -> dict[str, str]:
    """Each example's unit: its prompt (results written before prompts were recorded: the pair)."""
    return {e.get("key", e["id"]): e.get("prompt_key", e.get("key", e["id"])) for e in result.examples}


def _clustered(runs: Sequence[dict[str, dict[str, EvalResult]]], split: str, a: str, b: str):
    """The per-prompt test of a vs b over one or more independent runs (each run's prompts its own units)."""
    xs, ys, us = [], [], []
    for r, methods in enumerate(runs):
        ca, cb = credits(methods[a][split]), credits(methods[b][split])
        if set(ca) != set(cb):
            raise ValueError(f"{a} and {b} judged different {split} pairs: no paired test")
        keys, unit = sorted(ca), units(methods[a][split])
        xs += [ca[k] for k in keys]
        ys += [cb[k] for k in keys]
        us += [f"{r}:{unit[k]}" for k in keys]
    return clustered_test(xs, ys, us)


def claim_tests(methods: dict[str, dict[str, EvalResult]] | Sequence[dict[str, dict[str, EvalResult]]],
                claims: Sequence[Claim], splits: Sequence[str]) -> list[dict]:
    """Every claim on every split where both its methods ran: the per-prompt test, significance
    under Holm's correction over all of them, and the verdict. `methods` may be a list of
    independent runs (data seeds: each its own data): their prompts are pooled as units of one test."""
    runs = [methods] if isinstance(methods, dict) else list(methods)
    rows = [{"claim": c, "a": c.a, "b": c.b, "split": split, "test": _clustered(runs, split, c.a, c.b)}
            for split in splits for c in claims
            if all(split in m.get(c.a, {}) and split in m.get(c.b, {}) for m in runs)]
    for row in _corrected(rows):
        row["verdict"] = claim_verdict(row)
    return rows


def claim_verdict(row: dict) -> str:
    c, t, significant = row["claim"], row["test"], row["significant"]
    up, down = significant and t.diff > 0, significant and t.diff < 0
    if c.relation == ">":
        return "supported" if up else "contradicted" if down else "not shown"
    if c.relation == ">=":
        return "contradicted" if down else f"supported ({c.a} > {c.b})" if up else "not contradicted"
    return f"{c.a} > {c.b}" if up else f"{c.a} < {c.b}" if down else "no significant difference"


def claim_line(row: dict, label: str) -> str:
    t = row["test"]
    return (f"{row['claim']} on {label}: {row['verdict']} ({100 * t.diff:+.1f} points [{100 * t.ci95[0]:+.1f}, "
            f"{100 * t.ci95[1]:+.1f}], prompts {t.wins} better / {t.losses} worse, p={t.p:.2g})")


def conclusion(rows: Sequence[dict], labels: dict[str, str]) -> str:
    """One line stating every tested claim (`claim_tests`)."""
    if not rows:
        return ""
    return "; ".join(claim_line(r, labels.get(r["split"], r["split"])) for r in rows) + f" (Holm over {len(rows)} tests)"


CLAIM_COLUMNS = ("claim", "split", "A - B (points) [95% CI over prompts]", "prompts A better / B better",
                 "p (sign test over prompts)", "significant (Holm)", "verdict")


def claim_table(rows: Sequence[dict], labels: dict[str, str]) -> str:
    body = [[str(r["claim"]), labels.get(r["split"], r["split"]),
             f"{100 * r['test'].diff:+.1f} [{100 * r['test'].ci95[0]:+.1f}, {100 * r['test'].ci95[1]:+.1f}]",
             f"{r['test'].wins}/{r['test'].losses}", f"{r['test'].p:.3g}", "yes" if r["significant"] else "no",
             r["verdict"]] for r in rows]
    return md_table(CLAIM_COLUMNS, body)


def table_rows(methods: dict[str, dict[str, EvalResult]], splits: Sequence[str], seconds: dict[str, float]) -> list[list[str]]:
    rows = []
    for name, results in methods.items():
        verdict_only = any(r.behaviour.get("verdict_only") for r in results.values() if hasattr(r, "behaviour"))
        row = [f"{name} (verdict-only)" if verdict_only else name] + [fmt_score(results.get(split)) for split in splits]
        rows.append(row + [f"{seconds.get(name, 0):.0f}"])
    return rows


def markdown(methods: dict[str, dict[str, EvalResult]], splits: dict[str, str], seconds: dict[str, float]) -> str:
    """The table (accuracy % [Wilson 95% CI], n per split) and, per split, every paired test."""
    ns = {split: next((r[split].n for r in methods.values() if split in r), "?") for split in splits}
    cols = ["method"] + [f"{label}, n={ns[split]}" for split, label in splits.items()] + ["s"]
    parts = [md_table(cols, table_rows(methods, list(splits), seconds)), ""]
    for split, label in splits.items():
        parts += [f"### Per family on {label}", "", family_table(methods, split), ""]
    for split, label in splits.items():
        parts += [f"### Paired tests on {label} (same {ns[split]} pairs)", "",
                  md_table(TEST_COLUMNS, test_rows(tests(methods, split))), ""]
    return "\n".join(parts)


def family_table(methods: dict[str, dict[str, EvalResult]], split: str) -> str:
    """Accuracy % per family (subset) of one split, a row per method, n per family in the header."""
    ran = {name: results[split] for name, results in methods.items() if split in results}
    families = sorted({f for r in ran.values() for f in r.subsets})
    first = next(iter(ran.values()), None)
    cols = ["method"] + [f"{f}, n={first.subsets[f].n}" if first and f in first.subsets else f for f in families]
    rows = [[name] + [f"{100 * r.subsets[f].accuracy:.1f}" if f in r.subsets else "-" for f in families]
            for name, r in ran.items()]
    return md_table(cols, rows)


def method_panel(methods: dict[str, dict[str, EvalResult]], splits: dict[str, str], title: str) -> Panel:
    names = list(methods)
    series = {label: [(methods[m][split].accuracy, methods[m][split].ci95) if split in methods[m] else (None, None)
                      for m in names] for split, label in splits.items()}
    return Panel(title, names, series)
