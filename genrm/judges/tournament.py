"""Tournaments among responses to one prompt, judged pairwise: the Bradley-Terry fit, the match
pairs, and group rewards (GRPO groups in genrm.policy.trl_reward, `POST /group_reward` in genrm
serve). Best-of-N (genrm.policy.bon) uses the same fit and match pairs.

Group rewards, for a group of G responses to one prompt (`group_rewards`). Identical responses are
one entrant and get identical rewards; m = the number of distinct responses. The entrants are put
in a seeded order, sorted by sha256(seed, prompt, response): it depends on the contents only, so
the rewards do not depend on the order the responses are given in (permute them and the rewards
permute the same way, exactly). Each match shows the entrant earlier in that order as `chosen`
(genrm's pairwise judges judge both display orders by default, so p(a over b) = 1 - p(b over a));
p is the judge's p_chosen, every vote drawn (`exact_probabilities`). A tie is p = 0.5 (within 1e-9).

  round_robin  every pair of entrants, m(m-1)/2 matches. Reward: the Bradley-Terry log-strength
               fitted to the soft wins (i beats j p times, j beats i 1 - p times; a tie is half a
               win each) with `prior` (0.1, as best-of-N) virtual wins shared by each compared
               pair; mean 0 over the entrants.
  k_random     a budget: the entrants sit on a cycle in the seeded order; each meets the entrants
               1..k//2 places on either side, and for odd k the one opposite (m even) or
               (k+1)//2 places on (m odd, so it meets k + 1); k = 1 is the cycle (each meets 2:
               one match each would leave unconnected pairs). So each meets k random others (k + 1
               for odd k and odd m, and for k = 1), about m*k/2 matches, the comparison graph
               connected; k >= m - 1 is the round robin. Reward: the Bradley-Terry log-strength as above,
               fitted on these matches only.
  knockout     single elimination, m - 1 matches in ceil(log2 m) rounds: the bracket is the seeded
               order, neighbours meet (1-2, 3-4, ...), an odd one out (the last) has a bye. The
               winner advances; a tie is half a win to each and the earlier entrant advances.
               Reward: the win rate, (wins + ties/2) / matches played (byes are not matches):
               the champion 1, a first-round loser 0, a final loser (R-1)/R in a full bracket of
               R rounds; all ties give everyone 0.5.

With one distinct response there is nothing to compare: every response gets the neutral reward
(0 for the BT schemes, 0.5 for knockout).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from genrm.judges.base import Response, assistant, exact_probabilities
from genrm.types import Message, PreferencePair

SCHEMES = ("round_robin", "k_random", "knockout")
TIE = 1e-9  # |p - 0.5| at most this is a tie

JudgeFn = Callable[[list[PreferencePair]], list[float]]  # pairs -> p_chosen of each


def match_pair(prompt: list[Message], first: Response, second: Response, tag: str) -> PreferencePair:
    """The pair a judge compares for one match: `first` as chosen, `second` as rejected."""
    return PreferencePair(id=tag, prompt=prompt, chosen=assistant(first), rejected=assistant(second), subset="bon",
                          source=tag)


def p_first_better(judge, prompts: Sequence[list[Message]], matches: Sequence[tuple[Response, Response]],
                   batch_size: int = 8, progress: bool = False) -> list[float]:
    """P(first response better than second) for each (prompt, (first, second)) match, as the
    judge's p_chosen with the first response as `chosen` (pairwise judges average both orders)."""
    pairs = [match_pair(p, a, b, f"match-{i}") for i, (p, (a, b)) in enumerate(zip(prompts, matches))]
    return [j.p_chosen for j in judge.judge(pairs, batch_size=batch_size, progress=progress)] if pairs else []


def bradley_terry_fit(wins: Sequence[Sequence[float]], prior: float = 0.1, iterations: int = 2000,
                      tol: float = 1e-10) -> list[float]:
    """Log-strengths s (mean 0) maximising sum_ij wins[i][j] * log sigmoid(s_i - s_j).

    `wins[i][j]` is how often (or with what probability) i beat j; every pair with
    wins[i][j] + wins[j][i] > 0 was compared. `prior` adds prior/2 virtual wins each way to every
    compared pair, so a candidate that won everything still gets a finite strength. Solved with
    Hunter's (2004) minorisation-maximisation updates."""
    n = len(wins)
    if n == 0:
        return []
    games = [[wins[i][j] + wins[j][i] for j in range(n)] for i in range(n)]
    w = [[wins[i][j] + (prior / 2 if games[i][j] > 0 else 0.0) for j in range(n)] for i in range(n)]
    g = [[games[i][j] + (prior if games[i][j] > 0 else 0.0) for j in range(n)] for i in range(n)]
    total = [sum(row) for row in w]
    pi = [1.0] * n
    for _ in range(iterations):
        new = []
        for i in range(n):
            denom = sum(g[i][j] / (pi[i] + pi[j]) for j in range(n) if j != i and g[i][j] > 0)
            new.append(total[i] / denom if denom > 0 else pi[i])
        new = [max(x, 1e-300) for x in new]
        mean_log = sum(math.log(x) for x in new) / n
        new = [x / math.exp(mean_log) for x in new]
        delta = max(abs(math.log(a) - math.log(b)) for a, b in zip(new, pi))
        pi = new
        if delta < tol:
            break
    return [math.log(x) for x in pi]


# ---------------------------------------------------------------- group rewards


@dataclass
class Comparison:
    """One match: `first` and `second` are indices in the order given (an entrant's first copy),
    `p_first` the judge's P(first better); `round` numbers knockout rounds from 1 (0 otherwise)."""

    first: int
    second: int
    p_first: float
    round: int = 0


@dataclass
class GroupRewards:
    """One group's rewards, in the order its responses were given. `wins`: soft wins (sum of p for
    the BT schemes; wins + ties/2 for knockout); `matches`: matches played by each response's
    entrant; `comparisons`: the matches judged (each judged in both orders by genrm's pairwise judges)."""

    scheme: str
    rewards: list[float]
    wins: list[float]
    matches: list[int]
    comparisons: list[Comparison] = field(default_factory=list)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass
class _Group:
    prompt: list[Message]
    entrants: list[list[Message]]  # distinct responses, in the seeded order
    of: list[int]  # the given response i is entrant of[i]
    first: list[int]  # entrant e's first index in the given order
    tags: list[str]


def _entrants(prompt: list[Message], responses: Sequence[Response], seed: int) -> _Group:
    messages = [assistant(r) for r in responses]
    keys = [_canonical(m) for m in messages]
    where = _canonical(prompt)
    rank = {key: hashlib.sha256(f"{seed}\0{where}\0{key}".encode()).hexdigest() for key in set(keys)}
    order = sorted(rank, key=lambda key: (rank[key], key))
    position = {key: e for e, key in enumerate(order)}
    of = [position[key] for key in keys]
    first = [of.index(e) for e in range(len(order))]
    return _Group(prompt, [messages[i] for i in first], of, first, [rank[key][:16] for key in order])


def _match_plan(scheme: str, m: int, k: int) -> list[tuple[int, int]]:
    """The matches (earlier, later entrant in the seeded order) of a round robin or k_random group."""
    if scheme == "round_robin" or k >= m - 1:
        return [(a, b) for a in range(m) for b in range(a + 1, m)]
    offsets = set(range(1, k // 2 + 1))
    if k == 1:  # one match each would split the group into unconnected pairs: the cycle (2 each)
        offsets.add(1)
    elif k % 2:
        offsets.add(m // 2 if m % 2 == 0 else (k + 1) // 2)
    return sorted({tuple(sorted((a, (a + d) % m))) for a in range(m) for d in offsets})


def check_scheme(scheme: str, k: int) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown group scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    if scheme == "k_random" and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k_random needs k >= 1 opponents per response, got k={k!r}")


def group_rewards(judge_fn: JudgeFn, groups: Sequence[tuple[list[Message], Sequence[Response]]],
                  scheme: str = "round_robin", k: int = 2, seed: int = 0, prior: float = 0.1) -> list[GroupRewards]:
    """Each (prompt, responses) group's rewards under `scheme` (module docstring). `judge_fn(pairs)`
    returns each pair's p_chosen (`judge_probabilities(judge)`); it is called once for all the
    groups' matches, once per round for knockout."""
    check_scheme(scheme, k)
    built = [_entrants(prompt, responses, seed) for prompt, responses in groups]
    if scheme == "knockout":
        return _knockout(judge_fn, built)
    plans = [_match_plan(scheme, len(g.entrants), k) for g in built]
    p = _judge(judge_fn, [(g, a, b) for g, plan in zip(built, plans) for a, b in plan])
    out, at = [], 0
    for g, plan in zip(built, plans):
        m = len(g.entrants)
        wins = [[0.0] * m for _ in range(m)]
        for a, b in plan:
            wins[a][b], wins[b][a] = p[at], 1.0 - p[at]
            at += 1
        strengths = bradley_terry_fit(wins, prior=prior) if plan else [0.0] * m
        played = [sum(1 for a, b in plan if e in (a, b)) for e in range(m)]
        comparisons = [Comparison(g.first[a], g.first[b], pab) for (a, b), pab in zip(plan, p[at - len(plan):at])]
        out.append(GroupRewards(scheme, [strengths[e] for e in g.of], [sum(wins[e]) for e in g.of],
                                [played[e] for e in g.of], comparisons))
    return out


def _judge(judge_fn: JudgeFn, matches: list[tuple[_Group, int, int]]) -> list[float]:
    pairs = [match_pair(g.prompt, g.entrants[a], g.entrants[b], f"group-{g.tags[a]}-{g.tags[b]}") for g, a, b in matches]
    p = list(judge_fn(pairs)) if pairs else []
    if len(p) != len(pairs):
        raise RuntimeError(f"the judge returned {len(p)} probabilities for {len(pairs)} matches")
    return p


def _knockout(judge_fn: JudgeFn, built: list[_Group]) -> list[GroupRewards]:
    alive = [list(range(len(g.entrants))) for g in built]
    won = [[0.0] * len(g.entrants) for g in built]
    played = [[0] * len(g.entrants) for g in built]
    comparisons: list[list[Comparison]] = [[] for _ in built]
    round_no = 0
    while any(len(a) > 1 for a in alive):
        round_no += 1
        where = [(n, a[i], a[i + 1]) for n, a in enumerate(alive) for i in range(0, len(a) - 1, 2)]
        p = _judge(judge_fn, [(built[n], a, b) for n, a, b in where])
        out = set()
        for (n, a, b), pab in zip(where, p):
            played[n][a] += 1
            played[n][b] += 1
            if abs(pab - 0.5) <= TIE:
                won[n][a] += 0.5
                won[n][b] += 0.5
                out.add((n, b))  # the earlier entrant in the seeded bracket advances
            else:
                winner, loser = (a, b) if pab > 0.5 else (b, a)
                won[n][winner] += 1.0
                out.add((n, loser))
            comparisons[n].append(Comparison(built[n].first[a], built[n].first[b], pab, round_no))
        alive = [[e for e in a if (n, e) not in out] for n, a in enumerate(alive)]  # the odd one out: a bye
    result = []
    for g, w, m, c in zip(built, won, played, comparisons):
        rate = [w[e] / m[e] if m[e] else 0.5 for e in range(len(g.entrants))]
        result.append(GroupRewards("knockout", [rate[e] for e in g.of], [w[e] for e in g.of], [m[e] for e in g.of], c))
    return result


def judge_probabilities(judge, batch_size: int = 8, judge_all=None) -> JudgeFn:
    """`judge_fn` for `group_rewards`: the judge's p_chosen with every vote drawn. `judge_all(judge,
    pairs, batch_size)` replaces `judge.judge` (genrm.distributed.judge_all shards it across processes)."""
    judge = exact_probabilities(judge)

    def judge_fn(pairs: list[PreferencePair]) -> list[float]:
        judgments = judge_all(judge, pairs, batch_size) if judge_all else judge.judge(pairs, batch_size=batch_size)
        return [j.p_chosen for j in judgments]

    return judge_fn
