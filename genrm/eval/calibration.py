"""How far a judge's confidence can be trusted, and what more votes buy: pure functions of the
examples in results.json (genrm.eval.runner.example).

Calibration. A judge's confidence in its verdict is max(p_chosen, 1 - p_chosen) (BT: the sigmoid of
the reward margin; indicator: the letter's probability; CoT: the vote share), in [0.5, 1]. The
examples fall into BINS equal-width bins over [0.5, 1] (1.0 in the last); per bin, the mean
confidence and the accuracy (mean credit under genrm.eval.credit, so a tie counts 0.5, and it is
what the judge's accuracy is made of). Expected calibration error: ECE = sum over bins of
n_bin / N * |accuracy_bin - confidence_bin|. A judge that says 0.9 and is right 9 times in 10 has
ECE 0; one that always says 1.0 and is right 7 times in 10 has 0.3.

Votes. A CoT judge records, per order shown, each sample's vote ("chosen", "rejected" or
"unparsed") and its sampled tokens in sample order (Judgment.order_votes). Accuracy at k votes
per order uses the first k samples of each order of the same run, no resampling: the vote share of
chosen among the parsed ones, credited as the judge's own verdict is. k runs over 1, 2, 4, ... and
the largest k that every example has (adaptive stopping draws fewer samples for pairs already
settled: the curve stops at the fewest drawn). Tokens per decision: the tokens sampled for those
samples, per pair.
"""
from __future__ import annotations

from collections.abc import Sequence

from genrm.eval.credit import probability_credit
from genrm.stats import wilson

BINS = 10


def calibration(examples: Sequence[dict], bins: int = BINS) -> dict:
    """{"n", "ece", "bins": [{"low", "high", "n", "confidence", "accuracy"}]} over the examples
    that carry p_chosen (empty bins left out); {} when none does."""
    rated = [(max(e["p_chosen"], 1 - e["p_chosen"]), e["correct"]) for e in examples if e.get("p_chosen") is not None]
    if not rated:
        return {}
    width = 0.5 / bins
    grouped: dict[int, list[tuple[float, float]]] = {}
    for confidence, credit in rated:
        grouped.setdefault(min(bins - 1, int((confidence - 0.5) / width)), []).append((confidence, credit))
    rows = []
    for b in sorted(grouped):
        members = grouped[b]
        rows.append({"low": 0.5 + b * width, "high": 0.5 + (b + 1) * width, "n": len(members),
                     "confidence": sum(c for c, _ in members) / len(members),
                     "accuracy": sum(a for _, a in members) / len(members)})
    ece = sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / len(rated)
    return {"n": len(rated), "ece": ece, "bins": rows}


def vote_credit(votes: Sequence[str]) -> float:
    """The credit of a verdict from these votes: chosen's share of the parsed ones (none parsed: 0.5)."""
    chosen, rejected = votes.count("chosen"), votes.count("rejected")
    return 0.5 if chosen + rejected == 0 else probability_credit(chosen / (chosen + rejected))


def vote_ks(most: int) -> list[int]:
    ks, k = [], 1
    while k < most:
        ks.append(k)
        k *= 2
    return ks + [most] if most else []


def votes_curve(examples: Sequence[dict]) -> list[dict]:
    """[{"k", "n", "accuracy", "ci95", "tokens_per_decision"}] for k = 1, 2, 4, ... up to the
    votes every example has in each order it showed; [] when the examples carry no order_votes."""
    voted = [e["order_votes"] for e in examples if e.get("order_votes")]
    if not voted or len(voted) != len(examples):
        return []
    most = min(len(samples) for orders in voted for samples in orders.values())
    rows = []
    for k in vote_ks(most):
        credits = [vote_credit([v for samples in orders.values() for v, _ in samples[:k]]) for orders in voted]
        tokens = [sum(t for samples in orders.values() for _, t in samples[:k]) for orders in voted]
        accuracy = sum(credits) / len(credits)
        rows.append({"k": k, "n": len(credits), "accuracy": accuracy, "ci95": wilson(accuracy, len(credits)),
                     "tokens_per_decision": sum(tokens) / len(tokens)})
    return rows
