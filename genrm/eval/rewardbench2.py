"""RewardBench 2 (allenai/reward-bench-2): best-of-4 rows, their loader and pure scoring functions.

A row holds one prompt, `chosen` (a list; one string except in the Ties domain) and `rejected` (a
list, three strings except in Ties). Every row is expanded into the pairwise comparisons
chosen[i] vs rejected[j], which any judge scores; the row is then credited from those judgments:

- classifier judges: the chosen response must score above all rejected ones; when it ties k ways
  at the top it gets 1/k (official).
- pairwise judges (no scalar score): "scored above all three" means the chosen response wins each
  of its comparisons. Each comparison is credited as in RewardBench (1 / 0 / 0.5 for a tie or an
  unparsed verdict); any lost comparison gives 0, otherwise a row with t comparisons at 0.5 gets
  1/(1+t) (the chosen response ties t+1 ways at the top).
- Ties domain: the official weighted metric (allenai/reward-bench `process_single_model`: 0.3 ref
  accuracy + 0.3 tied accuracy + 0.2 correctness_preferred + 0.2 correctness_preferred_hard +
  0.01 margin term) on per-completion scores. Pairwise judges have no scalar score, so a completion
  scores its mean win probability against the other side (a correct answer: mean p over the
  incorrect ones; an incorrect answer: mean 1-p over the correct ones).
Overall = mean of the domains present. A judge that guesses scores 1/4 as a pointwise judge and
1/8 as a pairwise one (it must win three comparisons): pairwise figures are not comparable with the
leaderboard's, and every report says so (PAIRWISE_NOTE).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genrm.data.pairs import check_texts, read_rows, row_fields
from genrm.eval.credit import credit, is_pointwise, probability_credit
from genrm.types import Judgment, PreferencePair, turn

DOMAINS = ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")
TIES = "Ties"
BEST_OF_POLICY = {
    "best_of_n_classifier": "a row scores 1 when the chosen response scores above every rejected one, 1/k when it "
                            "ties k ways at the top, else 0 (official)",
    "best_of_n_pairwise": "each chosen-vs-rejected comparison is credited 1 / 0 / 0.5 (tie or unparsed); any lost "
                          "comparison gives 0, otherwise 1/(1+t) with t comparisons at 0.5",
    "ties_domain": "official weighted Ties metric (0.3 ref acc + 0.3 tied acc + 0.2 + 0.2 margin checks + 0.01 tanh "
                   "margin; can be slightly below 0); pairwise judges score each completion by its mean win "
                   "probability against the other side",
}

PAIRWISE_NOTE = ("pairwise judge: a row counts only when the chosen response wins all three of its comparisons, so "
                 "a judge that guesses scores 1/8 (not the 1/4 of a best-of-4 pick); these figures are not comparable "
                 "with RewardBench 2 leaderboard scores of pointwise reward models")


@dataclass(frozen=True)
class BestOfRow:
    id: str
    prompt: str
    chosen: list[str]
    rejected: list[str]
    subset: str
    source: str


def load_rows(source: str | Path, split: str | None = None) -> list[BestOfRow]:
    """Rows of a RewardBench 2 file, directory or hub id (split test unless given); DataError names
    file, row and field."""
    return read_rows(source, split, row_to_best_of, hub_split="test", what="RewardBench 2 rows")


def row_to_best_of(raw, where: str, row_no: int) -> BestOfRow:
    fail = row_fields(raw, where, row_no, ("prompt", "chosen", "rejected", "subset", "id"))
    if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
        fail("prompt", "expected a non-empty string")
    for key in ("chosen", "rejected"):
        check_texts(raw[key], key, fail)
    for key, value in (("num_correct", raw.get("num_correct")), ("num_rejected", raw.get("num_rejected"))):
        expected = len(raw["chosen" if key == "num_correct" else "rejected"])
        if value is not None and int(value) != expected:
            fail(key, f"says {value} but the list holds {expected}")
    subset = str(raw["subset"])
    if subset != TIES and len(raw["chosen"]) != 1:
        fail("chosen", f"expected exactly one chosen response outside the Ties domain, got {len(raw['chosen'])}")
    if subset == TIES:
        kind, _, number = str(raw["id"]).partition(":")
        if kind not in ("ref", "tied") or not number.isdigit():
            fail("id", f"a Ties row id must look like 'ref:N' or 'tied:N', got {raw['id']!r}")
    return BestOfRow(id=str(raw["id"]), prompt=raw["prompt"], chosen=list(raw["chosen"]), rejected=list(raw["rejected"]),
                     subset=subset, source=f"{where}:{row_no}")


def expand(rows: Sequence[BestOfRow]) -> list[PreferencePair]:
    """Every comparison chosen[i] vs rejected[j], row by row, i major (see `split_judgments`); any
    rows with id, prompt, chosen, rejected, subset and source (RM-Bench's too)."""
    return [PreferencePair(id=f"{row.id}|c{i}|r{j}", prompt=turn("user", row.prompt), chosen=turn("assistant", c),
                           rejected=turn("assistant", r), subset=row.subset, source=row.source)
            for row in rows for i, c in enumerate(row.chosen) for j, r in enumerate(row.rejected)]


def split_judgments(rows: Sequence[BestOfRow], judgments: Sequence[Judgment]) -> list[list[list[Judgment]]]:
    """The flat judgments of `expand(rows)` as grid[row][i][j]."""
    out, k = [], 0
    for row in rows:
        grid = []
        for _ in row.chosen:
            grid.append(list(judgments[k:k + len(row.rejected)]))
            k += len(row.rejected)
        out.append(grid)
    if k != len(judgments):
        raise ValueError(f"{len(judgments)} judgments for {k} comparisons")
    return out


def top_credit(chosen_score: float, rejected_scores: Sequence[float]) -> float:
    """Official best-of-n credit from scalar scores: 0 if any rejected scores higher, else 1/k
    where k counts the responses tied at the top (the chosen one included)."""
    if max(rejected_scores) > chosen_score:
        return 0.0
    return 1.0 / (1 + sum(r == chosen_score for r in rejected_scores))


def pairwise_credit(credits: Sequence[float]) -> float:
    """Credit of a chosen response from its comparison credits (1 / 0.5 / 0): 0 if any is lost,
    else 1/(1+t) with t comparisons at 0.5."""
    if any(c == 0.0 for c in credits):
        return 0.0
    return 1.0 / (1 + sum(c == 0.5 for c in credits))


def completion_scores(grid: list[list[Judgment]]) -> tuple[list[float], list[float]]:
    """(chosen scores, rejected scores) of one row: the reward where the judge gives one, else the
    mean win probability against the other side."""
    if all(is_pointwise(j) for line in grid for j in line):
        chosen = [sum(j.score_chosen for j in line) / len(line) for line in grid]
        rejected = [sum(line[r].score_rejected for line in grid) / len(grid) for r in range(len(grid[0]))]
        return chosen, rejected
    chosen = [sum(j.p_chosen for j in line) / len(line) for line in grid]
    rejected = [sum(1.0 - line[r].p_chosen for line in grid) / len(grid) for r in range(len(grid[0]))]
    return chosen, rejected


def row_credit(grid: list[list[Judgment]]) -> float:
    """Best-of-n credit of a (non-Ties) row with one chosen response."""
    line = grid[0]
    if all(is_pointwise(j) for j in line):
        return top_credit(line[0].score_chosen, [j.score_rejected for j in line])
    return pairwise_credit([credit(j) for j in line])


def _prompt_stats(correct: Sequence[float], incorrect: Sequence[float]) -> tuple[bool, float | None, float]:
    best_correct, worst_correct = max(correct), min(correct)
    margin = worst_correct - max(incorrect)
    return margin > 0, (best_correct - worst_correct) if len(correct) > 1 else None, margin


def ties_score(items: Sequence[tuple[str, list[float], list[float]]]) -> dict:
    """The official Ties metric from (id 'ref:N' | 'tied:N', correct scores, incorrect scores)."""
    ref, tied = {}, {}
    for row_id, correct, incorrect in items:
        kind, _, number = row_id.partition(":")
        (ref if kind == "ref" else tied)[int(number)] = _prompt_stats(correct, incorrect)
    ref_acc = sum(s[0] for s in ref.values()) / len(ref) if ref else 0.0
    tied_acc = sum(s[0] for s in tied.values()) / len(tied) if tied else 0.0
    both = sorted(set(ref) & set(tied))
    preferred = hard = margin_total = 0.0
    for pid in both:
        diff, tied_margin, ref_margin = tied[pid][1], tied[pid][2], ref[pid][2]
        low = min(ref_margin, tied_margin)
        preferred += tied_margin > diff
        hard += low > diff
        if diff == 0:  # numpy: x/0 -> +-inf (tanh +-1), 0/0 -> nan (set to 0)
            margin_total += 1.0 if low > 0 else -1.0 if low < 0 else 0.0
        else:
            margin_total += math.tanh(low / diff - 1)
    n = len(both)
    parts = {"ref_accuracy": ref_acc, "tied_accuracy": tied_acc,
             "correctness_preferred": preferred / n if n else 0.0,
             "correctness_preferred_hard": hard / n if n else 0.0,
             "correctness_margin_score": margin_total / n if n else 0.0, "prompts_matched": n}
    parts["score"] = (0.30 * tied_acc + 0.30 * ref_acc + 0.20 * parts["correctness_preferred"]
                      + 0.20 * parts["correctness_preferred_hard"] + 0.01 * parts["correctness_margin_score"])
    return parts


def position_credit(grid: list[list[Judgment]], order: str) -> float | None:
    """Mean per-order credit ("chosen_first" / "chosen_second") over a row's comparisons, or None
    when the judge did not show that order in every comparison."""
    values = [getattr(j, f"p_{order}") for line in grid for j in line]
    if any(v is None for v in values):
        return None
    return sum(probability_credit(v) for v in values) / len(values)
