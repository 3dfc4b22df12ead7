"""JudgeBench (Tan et al. 2024, "JudgeBench: A Benchmark for Evaluating LLM-Based Judges"; hub
ScalerLab/JudgeBench, splits gpt (default) and claude): response pairs with an objective label, their
loader, their expansion into pairs and the official scoring.

A row holds `pair_id`, `source` (e.g. "mmlu-pro-law", "livebench-math"), `question`, `response_A`,
`response_B` and `label` ("A>B" or "B>A": which response is correct). It becomes one pair: chosen =
the response the label names, rejected = the other, subset = the source.

The official rule, read in github.com/ScalerLab/JudgeBench at commit
e2c52c284e735e139b3daa61c206ee208f36c461, utils/metrics.py (`compute_final_metrics`,
`flip_judgment`) and run_judge.py (`judge_pairs`, `main`):
- by default every pair is judged twice, on (A, B) and on (B, A); the second decision is flipped
  back to the A/B frame ("A>B" <-> "B>A"; "A=B" and no decision stay);
- per pair, counter = +1 for each decision equal to the label, -1 for each equal to the opposite
  label, 0 for "A=B" or None (no verdict); the pair is correct when counter > 0: both orders right,
  or one right and the other a tie or no verdict. An inconsistent pair (one order right, the other
  wrong) and a pair with no verdict count 0;
- score = 100 x correct / pairs per category, by prefix of `source`: mmlu-pro (knowledge),
  livebench-reasoning, livebench-math, livecodebench (coding); overall = over all pairs (pooled,
  not the mean of the categories); genrm keeps fractions (x 100 in theirs);
- with --single_game (their advice for reward models) a pair is correct when its one decision
  equals the label.

How genrm's judges enter it (`decisions`): a pairwise judge's decision in each order it showed is
its verdict there (p_chosen of that order > 0.5 names the chosen response, < 0.5 the other, = 0.5
is "A=B", no parsed verdict is None); a judge showing one order per pair (--orders one) gives one
decision, scored like their single game in whichever order was shown. A pointwise judge (BT,
length) decides as their reward-model judges do, `'A>B' if score_A > score_B else 'B>A'`, in both
orders: an exact tie then gives opposite decisions and counts 0, the same as genrm's strict rule
(their single game would read a tie as "B>A", a position artefact not copied). The genrm subset
table beside it uses the one credit policy (a tie counts 0.5; an indicator judge's p_chosen is the
mean of its two orders), so it can differ from the official figures. A pairwise judge guessing
independently in each order scores 1/4 on the official figures (both orders must agree).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.data.pairs import read_rows, row_fields
from genrm.eval.credit import is_pointwise
from genrm.types import Judgment, PreferencePair, turn

LABELS = ("A>B", "B>A")
CATEGORIES = {"knowledge": "mmlu-pro", "reasoning": "livebench-reasoning", "math": "livebench-math",
              "coding": "livecodebench"}  # name -> source prefix (run_judge.py main)
POLICY = {
    "judgebench": "each pair is decided in both orders (A, B) and (B, A); +1 per decision naming the correct response, "
                  "-1 per decision naming the other, 0 for a tie or no verdict; correct when the sum is > 0 (an "
                  "inconsistent pair counts 0); score per source prefix and overall over all pairs (ScalerLab/JudgeBench "
                  "utils/metrics.py compute_final_metrics); pointwise judges decide 'A>B' if score_A > score_B else 'B>A'",
}


@dataclass(frozen=True)
class LabelledPair:
    id: str
    question: str
    response_a: str
    response_b: str
    label: str
    subset: str  # the row's source
    source: str


def flip(decision: str | None) -> str | None:
    """Their flip_judgment: "A>B" <-> "B>A"; anything else unchanged."""
    return {"A>B": "B>A", "B>A": "A>B"}.get(decision, decision)


def load_rows(source: str | Path, split: str | None = None) -> list[LabelledPair]:
    """Rows of a JudgeBench file (jsonl / json of the hub schema), directory or hub id (split gpt
    unless given); DataError names file, row and field."""
    return read_rows(source, split, row_from, id_field="pair_id", hub_split="gpt", what="JudgeBench rows")


def row_from(raw, where: str, row_no: int) -> LabelledPair:
    fail = row_fields(raw, where, row_no, ("pair_id", "source", "question", "response_A", "response_B", "label"))
    for key in ("source", "question", "response_A", "response_B"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            fail(key, "expected a non-empty string", "empty_text")
    if raw["response_A"].strip() == raw["response_B"].strip():
        fail("response_B", "identical to 'response_A'", "identical")
    if raw["label"] not in LABELS:
        fail("label", f"expected one of {', '.join(LABELS)}, got {raw['label']!r}")
    return LabelledPair(id=str(raw["pair_id"]), question=raw["question"], response_a=raw["response_A"],
                        response_b=raw["response_B"], label=raw["label"], subset=raw["source"], source=f"{where}:{row_no}")


def expand(rows: Sequence[LabelledPair]) -> list[PreferencePair]:
    """One pair per row: chosen = the response the label names."""
    out = []
    for row in rows:
        chosen, rejected = (row.response_a, row.response_b) if row.label == "A>B" else (row.response_b, row.response_a)
        out.append(PreferencePair(id=row.id, prompt=turn("user", row.question), chosen=turn("assistant", chosen),
                                  rejected=turn("assistant", rejected), subset=row.subset, source=row.source))
    return out


def decisions(label: str, judgment: Judgment) -> list[str | None]:
    """The judge's decisions in the A/B frame (the second already flipped back), the (A, B) order
    first; one decision for a judge that showed one order."""
    if is_pointwise(judgment):
        a, b = ((judgment.score_chosen, judgment.score_rejected) if label == "A>B"
                else (judgment.score_rejected, judgment.score_chosen))
        on_ab = "A>B" if a > b else "B>A"
        on_ba = "A>B" if b > a else "B>A"  # the judge sees B first: "A>B" means B wins
        return [on_ab, flip(on_ba)]

    def verdict(p):
        return None if p is None else label if p > 0.5 else flip(label) if p < 0.5 else "A=B"

    shown = {order for order in ("chosen_first", "chosen_second")
             if getattr(judgment, f"p_{order}") is not None or order in judgment.order_votes}
    if not shown:
        return [verdict(judgment.p_chosen if judgment.parsed else None)]
    ab_order = "chosen_first" if label == "A>B" else "chosen_second"  # (A, B) shows the chosen one first iff A is
    orders = sorted(shown, key=lambda order: order != ab_order)
    return [verdict(getattr(judgment, f"p_{order}")) for order in orders]


def pair_correct(label: str, pair_decisions: Sequence[str | None]) -> bool:
    """compute_final_metrics: +1 per decision equal to the label, -1 per opposite, correct if > 0."""
    counter = sum(1 if d == label else -1 if d == flip(label) else 0 for d in pair_decisions)
    return counter > 0


def official_scores(rows: Sequence[LabelledPair], row_decisions: Sequence[Sequence[str | None]]) -> dict:
    """Per category and overall: pairs, correct, inconsistent (two decisions that differ), score."""
    records = [(row.subset, pair_correct(row.label, ds), len(ds) == 2 and ds[0] != ds[1])
               for row, ds in zip(rows, row_decisions)]

    def group(prefix):
        chosen = [r for r in records if r[0].startswith(prefix)]
        if not chosen:
            return None
        correct = sum(r[1] for r in chosen)
        return {"prefix": prefix, "pairs": len(chosen), "correct": correct,
                "inconsistent": sum(r[2] for r in chosen), "score": correct / len(chosen)}

    categories = {name: g for name, prefix in CATEGORIES.items() if (g := group(prefix)) is not None}
    total = group("")
    return {"categories": categories, "all": total, "overall": total["score"],
            "sections": {name: g["score"] for name, g in categories.items()},
            "other_sources": sorted({r[0] for r in records if not any(r[0].startswith(p) for p in CATEGORIES.values())})}


def figures(rows: Sequence[LabelledPair], judgments: Sequence[Judgment]) -> dict:
    """`official_scores` of a judge's judgments of `expand(rows)`."""
    return official_scores(rows, [decisions(row.label, j) for row, j in zip(rows, judgments)])


def notes(fig: dict, judgments: Sequence[Judgment]) -> list[str]:
    out = []
    if not all(is_pointwise(j) for j in judgments):
        out.append("JudgeBench figures count a pair only when its decisions in the two orders sum to a win: a pairwise "
                   "judge guessing independently in each order scores 1/4 there")
    if fig["other_sources"]:
        out.append("sources in no JudgeBench category (counted in overall only): " + ", ".join(fig["other_sources"]))
    return out


TABLE_COLUMNS = ("category", "source prefix", "pairs", "correct", "inconsistent", "score")


def table_rows(fig: dict) -> list[list]:
    """Rows of the official table: one per category present, then overall (score is a fraction)."""
    rows = [[name, g["prefix"], g["pairs"], g["correct"], g["inconsistent"], g["score"]]
            for name, g in fig["categories"].items()]
    a = fig["all"]
    return rows + [["overall", "(all pairs)", a["pairs"], a["correct"], a["inconsistent"], a["score"]]]
