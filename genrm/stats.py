"""Statistics behind every accuracy genrm reports: Wilson intervals, and paired tests on the same pairs."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def wilson(mean: float, n: int, z: float = 1.96) -> list[float]:
    """Wilson score interval [low, high] (95% at z=1.96) for a proportion `mean` observed over n
    examples; credits of 0.5 (ties) are allowed in the mean."""
    if n == 0:
        return [0.0, 1.0]
    denom = 1 + z * z / n
    centre = (mean + z * z / (2 * n)) / denom
    half = z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return [0.0 if mean <= 0 else min(low, mean), 1.0 if mean >= 1 else max(high, mean)]  # no rounding past the estimate


@dataclass(frozen=True)
class PairedTest:
    """Two judges on the same pairs: `wins` pairs where A got more credit than B, `losses` where
    less, `p` the exact two-sided sign test on them (exact McNemar when credits are 0/1), `diff`
    the mean credit difference A - B."""

    n: int
    wins: int
    losses: int
    diff: float
    p: float
    ci95: tuple[float, float] | None = None  # of `diff` (clustered_test: a bootstrap over units)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p of k successes in n fair coin flips (sum of outcomes no likelier than k)."""
    if n == 0:
        return 1.0
    probs = [math.comb(n, i) / 2 ** n for i in range(n + 1)]
    return min(1.0, sum(p for p in probs if p <= probs[k] * (1 + 1e-9)))


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Exact sign test of per-pair credits `a` vs `b` (same pairs, same order)."""
    if len(a) != len(b):
        raise ValueError(f"paired test needs the same pairs: {len(a)} vs {len(b)} credits")
    wins = sum(x > y for x, y in zip(a, b))
    losses = sum(x < y for x, y in zip(a, b))
    diff = (sum(a) - sum(b)) / len(a) if a else 0.0
    return PairedTest(len(a), wins, losses, diff, binomial_two_sided(wins, wins + losses))


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm-Bonferroni: which of the hypotheses are rejected at family-wise level `alpha`."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        out[i] = True
    return out


def clustered_test(a: Sequence[float], b: Sequence[float], units: Sequence[str], resamples: int = 4000,
                   seed: int = 0) -> PairedTest:
    """Paired test of per-pair credits `a` vs `b` when pairs come in units that are not
    independent (pairs sharing a prompt): each unit's mean credit difference is one observation.
    `n`, `wins` and `losses` count units; `p` is the exact sign test over units; `diff` is the mean
    per-pair difference, and `ci95` its 95% percentile bootstrap interval resampling whole units."""
    import random

    if not len(a) == len(b) == len(units):
        raise ValueError(f"clustered test needs one unit per pair: {len(a)}, {len(b)}, {len(units)}")
    groups: dict[str, list[float]] = {}
    for x, y, unit in zip(a, b, units):
        groups.setdefault(unit, []).append(x - y)
    sums = [(sum(d), len(d)) for d in groups.values()]
    wins = sum(s > 0 for s, _ in sums)
    losses = sum(s < 0 for s, _ in sums)
    diff = sum(s for s, _ in sums) / len(a) if a else 0.0
    rng, boot = random.Random(seed), []
    for _ in range(resamples if sums else 0):
        draw = [sums[rng.randrange(len(sums))] for _ in sums]
        boot.append(sum(s for s, _ in draw) / sum(k for _, k in draw))
    boot.sort()
    ci = (boot[int(0.025 * len(boot))], boot[min(len(boot) - 1, int(0.975 * len(boot)))]) if boot else (0.0, 0.0)
    return PairedTest(len(sums), wins, losses, diff, binomial_two_sided(wins, wins + losses), ci)
