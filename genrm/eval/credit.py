"""The one credit policy: how a Judgment of one pair becomes a credit in {0, 0.5, 1}.

Every accuracy genrm prints (`genrm eval`, `genrm train --eval-data`, STaR iterations, the demo,
the benchmarks) is a mean of these credits, and every results file records TIE_POLICY.
- pointwise judges (Judgment has score_chosen and score_rejected: BT, the length baseline): 1 if
  score_chosen > score_rejected strictly, else 0; an exact tie is wrong (the official RewardBench rule);
- pairwise judges (indicator, CoT): parsed=False (no verdict in any sample) gives 0.5 (official);
  p_chosen > 0.5 gives 1, < 0.5 gives 0, exactly 0.5 (no preference, e.g. a split vote) gives 0.5,
  the expected credit of the coin flip the official script would make.
Per display order, p_chosen_first / p_chosen_second are credited the same way.
"""
from __future__ import annotations

from genrm.types import Judgment

TIE_POLICY = {
    "pointwise": "correct only if score_chosen > score_rejected strictly; an exact tie counts 0 (official); "
                 "the length baseline is a pointwise judge (score = characters)",
    "pairwise_unparsed": "a generative verdict with no parsed sample (parsed=False) counts 0.5 (official)",
    "pairwise_tie": "p_chosen exactly 0.5 (no preference, e.g. a split vote) counts 0.5 and is counted as a tie",
    "position": "per-order accuracy: p_chosen_first / p_chosen_second > 0.5 counts 1, < 0.5 counts 0, = 0.5 counts 0.5; "
                "a judge showing one order per pair shows a seeded random one (recorded per example)",
    "confidence_interval": "Wilson 95% interval on the mean credit over n examples",
}


def is_pointwise(judgment: Judgment) -> bool:
    return judgment.score_chosen is not None and judgment.score_rejected is not None


def probability_credit(p: float) -> float:
    return 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5


def credit(judgment: Judgment) -> float:
    """Credit in {0, 0.5, 1} for one judged pair under TIE_POLICY."""
    if is_pointwise(judgment):
        return 1.0 if judgment.score_chosen > judgment.score_rejected else 0.0
    if not judgment.parsed:
        return 0.5
    return probability_credit(judgment.p_chosen)


def is_tie(judgment: Judgment) -> bool:
    if is_pointwise(judgment):
        return judgment.score_chosen == judgment.score_rejected
    return judgment.parsed and judgment.p_chosen == 0.5


def order_credits(judgment: Judgment) -> dict[str, float]:
    """{"chosen_first": credit, "chosen_second": credit} for the orders this judgment showed."""
    out = {}
    for attr, name in (("p_chosen_first", "chosen_first"), ("p_chosen_second", "chosen_second")):
        value = getattr(judgment, attr)
        if value is not None:
            out[name] = probability_credit(value)
    return out
