"""Choosing among samples with a judge: best-of-N ranking and statistical rejection sampling.

Ranking methods (`rank`), any judge:
  score        pointwise reward per response (Bradley-Terry judges); scores = rewards
  knockout     single-elimination tournament, N-1 comparisons (each judged in both orders by
               the pairwise judges); scores = matches won; ties (p = 0.5) go to the earlier index
  round_robin  every pair compared once, N(N-1)/2 comparisons, then a Bradley-Terry fit to the
               soft wins (p_chosen); scores = fitted log-strengths (mean 0), wins = sum of p
`auto` picks `score` for pointwise judges (BT, length) and `knockout` for pairwise ones
(`round_robin` where full scores are needed). A CoT judge ranking by round robin draws every vote
(its p_chosen is used, not only its verdict: judges.base.exact_probabilities).

Rejection sampling (RSO, Liu et al. 2023): accept candidate y with probability
exp((r(y) - M) / beta), M = the largest reward among the candidates, so accepted samples follow
pi(y) exp(r(y)/beta) (approximately: M is estimated from the same candidates).

The math (`bradley_terry_fit`, shared with group rewards in genrm.judges.tournament, `acceptance_probs`,
`accept`) is pure and tested by hand.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genrm.config import EvalConfig, SamplingConfig
from genrm.judges.base import PointwiseJudge, exact_probabilities
from genrm.judges.tournament import bradley_terry_fit, p_first_better
from genrm.types import Message

METHODS = ("auto", "score", "knockout", "round_robin")


@dataclass
class BonConfig:
    """Options of `genrm bon` / `genrm rs` (a recipe, key=value on the command line; sections dotted).
    `policy`, `judge`, `prompts` and `n` are also command-line options, which override the recipe."""

    policy: str = "smollm2-135m"  # HF id, local checkpoint or the embedded default
    judge: str | None = None  # anything genrm.load_judge accepts (required)
    prompts: str | None = None  # JSON lines with a `prompt` field (required)
    n: int | None = None  # samples per prompt (required)
    ranking: str = "auto"  # auto | score | knockout | round_robin
    seed: int = 0
    limit: int | None = None  # the first L prompts
    chunk_size: int = 8  # prompts per durably written chunk
    judge_kind: str | None = None
    over_length: str = "error"  # a prompt with no room for max_new_tokens in the policy's context: error | skip
    beta: float = 1.0  # rejection sampling: accept with probability exp((r - max r) / beta)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# ---------------------------------------------------------------- prompts


@dataclass(frozen=True)
class PromptRow:
    id: str
    messages: list[Message]
    source: str = ""  # "file:line", to locate an error


def load_prompts(path: str | Path, limit: int | None = None) -> list[PromptRow]:
    """Prompts from a JSON-lines file whose rows hold `prompt` (a string or a message list ending
    in a user turn) and optionally `id`. Preference files work as they are. Bad rows raise
    DataError naming the file, line and field."""
    import json

    from genrm.data.pairs import DataError, messages_of

    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, None, "no such file", "missing_file")
    rows: list[PromptRow] = []
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            if not raw.strip():
                continue

            def fail(field, problem, kind, line_no=line_no):
                raise DataError(str(path), line_no, field, problem, kind)

            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                fail(None, "invalid UTF-8", "invalid_utf8")
            except json.JSONDecodeError as e:
                fail(None, f"malformed JSON: {e.msg} (column {e.colno})", "malformed_json")
            if not isinstance(row, dict):
                fail(None, f"expected an object with a 'prompt' field, got {type(row).__name__}", "wrong_type")
            if "prompt" not in row:
                fail("prompt", "missing field", "missing_field")
            messages = messages_of(row["prompt"], "prompt", "user", fail)
            if messages[-1]["role"] == "assistant":
                fail("prompt", "the conversation ends with an assistant turn; the last turn must be the user's", "unknown_role")
            rows.append(PromptRow(id=str(row.get("id", f"{path.stem}-{line_no}")), messages=messages, source=f"{path}:{line_no}"))
            if limit is not None and len(rows) >= limit:
                break
    if not rows:
        raise DataError(str(path), None, None, "no prompts found", "no_pairs")
    return rows


# ---------------------------------------------------------------- ranking


@dataclass
class Ranking:
    """One prompt's candidates ranked. `scores` are rewards (score), matches won (knockout) or
    fitted BT log-strengths (round_robin); `wins` counts matches won (soft, for round_robin;
    empty for score)."""

    method: str
    scores: list[float]
    wins: list[float]
    winner: int
    comparisons: int

    def order(self) -> list[int]:
        """Candidate indices, best first (ties: earlier index first; the winner always first)."""
        rest = sorted((i for i in range(len(self.scores)) if i != self.winner), key=lambda i: (-self.scores[i], i))
        return [self.winner, *rest]


def pointwise_scores(judge, prompts: Sequence[list[Message]], responses: Sequence[str], batch_size: int = 8,
                     progress: bool = False) -> list[float]:
    """The reward of each (prompt, response) from a pointwise judge (BT, length), each scored alone."""
    if not isinstance(judge, PointwiseJudge):  # a user's choice of judge, reported like other option errors
        why = f"pointwise scores need a pointwise judge (BT or length), not {getattr(judge, 'kind', judge)!r}"
        raise ValueError(f"{why}; rank pairwise judges with ranking=knockout or round_robin")  # noqa: TRY004
    return judge.score(prompts, responses, batch_size, progress) if responses else []


def resolve_method(judge, method: str, need_scores: bool = False) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown ranking {method!r} (expected one of {', '.join(METHODS)})")
    pointwise = isinstance(judge, PointwiseJudge)
    if method != "auto":
        if method == "score" and not pointwise:
            raise ValueError(f"ranking=score needs a pointwise judge (BT or length); this judge is kind {judge.kind!r}")
        return method
    if pointwise:
        return "score"
    return "round_robin" if need_scores else "knockout"


def rank(judge, prompts: Sequence[list[Message]], candidates: Sequence[Sequence[str]], method: str = "auto",
         batch_size: int = 8, progress: bool = False, prior: float = 0.1) -> list[Ranking]:
    """Rank each prompt's candidate texts with the judge; every judge call is batched across prompts."""
    method = resolve_method(judge, method)
    if method == "score":
        flat_p = [p for p, cands in zip(prompts, candidates) for _ in cands]
        flat = pointwise_scores(judge, flat_p, [c for cands in candidates for c in cands], batch_size, progress)
        out, k = [], 0
        for cands in candidates:
            s = flat[k:k + len(cands)]
            k += len(cands)
            out.append(Ranking("score", s, [], max(range(len(s)), key=lambda i: (s[i], -i)), 0))
        return out
    if method == "knockout":
        return _knockout(judge, prompts, candidates, batch_size, progress)
    return _round_robin(judge, prompts, candidates, batch_size, progress, prior)


def _knockout(judge, prompts, candidates, batch_size, progress) -> list[Ranking]:
    alive = [list(range(len(c))) for c in candidates]
    wins = [[0.0] * len(c) for c in candidates]
    counts = [0] * len(candidates)
    while any(len(a) > 1 for a in alive):
        where, match_prompts, matches = [], [], []
        for k, a in enumerate(alive):
            for m in range(0, len(a) - 1, 2):
                where.append((k, a[m], a[m + 1]))
                match_prompts.append(prompts[k])
                matches.append((candidates[k][a[m]], candidates[k][a[m + 1]]))
        p = p_first_better(judge, match_prompts, matches, batch_size, progress)
        losers = set()
        for (k, i, j), pij in zip(where, p):
            winner, loser = (i, j) if pij >= 0.5 else (j, i)
            wins[k][winner] += 1
            losers.add((k, loser))
            counts[k] += 1
        alive = [[i for i in a if (k, i) not in losers] for k, a in enumerate(alive)]  # odd one out: a bye
    return [Ranking("knockout", list(w), list(w), a[0], c) for w, a, c in zip(wins, alive, counts)]


def _round_robin(judge, prompts, candidates, batch_size, progress, prior) -> list[Ranking]:
    judge = exact_probabilities(judge)  # the fit reads p_chosen itself
    where, match_prompts, matches = [], [], []
    for k, cands in enumerate(candidates):
        for i in range(len(cands)):
            for j in range(i + 1, len(cands)):
                where.append((k, i, j))
                match_prompts.append(prompts[k])
                matches.append((cands[i], cands[j]))
    p = p_first_better(judge, match_prompts, matches, batch_size, progress)
    wins = [[[0.0] * len(c) for _ in c] for c in candidates]
    for (k, i, j), pij in zip(where, p):
        wins[k][i][j], wins[k][j][i] = pij, 1.0 - pij
    out = []
    for k, w in enumerate(wins):
        strengths = bradley_terry_fit(w, prior=prior)
        soft = [sum(row) for row in w]
        best = max(range(len(strengths)), key=lambda i: (strengths[i], -i))
        n = len(w)
        out.append(Ranking("round_robin", strengths, soft, best, n * (n - 1) // 2))
    return out


# ---------------------------------------------------------------- rejection sampling


def acceptance_probs(rewards: Sequence[float], beta: float, bound: float | None = None) -> list[float]:
    """exp((r - M) / beta) for each reward; M = max(rewards) unless `bound` is given."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    if not rewards:
        return []
    m = max(rewards) if bound is None else bound
    return [min(1.0, math.exp((r - m) / beta)) for r in rewards]


def accept(probs: Sequence[float], uniforms: Sequence[float]) -> list[bool]:
    """Candidate i is accepted when uniforms[i] < probs[i]."""
    return [u < p for p, u in zip(probs, uniforms, strict=True)]


@dataclass
class RejectionResult:
    """Candidates accepted from one prompt's pool (indices in candidate order)."""

    bound: float
    probs: list[float]
    accepted: list[int]

    @property
    def acceptance_rate(self) -> float:
        return len(self.accepted) / len(self.probs) if self.probs else 0.0


def rejection_sample(rewards: Sequence[float], beta: float, seed: int = 0, key: str = "") -> RejectionResult:
    """Accept each candidate with probability exp((r - max r) / beta), with uniforms drawn from a
    stream seeded by (seed, key): the same seed and prompt key give the same draws."""
    probs = acceptance_probs(rewards, beta)
    rng = random.Random(f"{seed}\0{key}")
    kept = accept(probs, [rng.random() for _ in probs])
    return RejectionResult(bound=max(rewards) if rewards else 0.0, probs=probs,
                           accepted=[i for i, k in enumerate(kept) if k])


def mean_ci(values: Sequence[float]) -> dict:
    """Mean with a normal-approximation 95% confidence interval (t not used: n is the prompt count)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0}
    mean = sum(values) / n
    if n == 1:
        return {"mean": mean, "ci95": None, "n": 1}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = 1.96 * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": n}


# ---------------------------------------------------------------- sample, then rank


def sample_and_rank(generator, judge, rows: Sequence[PromptRow], params, method: str = "auto", batch_size: int = 8,
                    need_scores: bool = False, progress: bool = False) -> list[dict]:
    """Sample `params.n` answers per prompt and rank them: one record per prompt with `id`,
    `prompt`, `candidates` (text, score, wins, num_tokens, finished), `ranking`, `comparisons`,
    `winner` (index, text, score) and `order` (indices, best first)."""
    if not rows:
        return []
    method = resolve_method(judge, method, need_scores)
    samples = generator.generate([r.messages for r in rows], params, progress=progress)
    texts = [[c.text for c in cands] for cands in samples]
    rankings = rank(judge, [r.messages for r in rows], texts, method, batch_size, progress)
    out = []
    for row, cands, ranking in zip(rows, samples, rankings):
        candidates = [{"text": c.text, "score": ranking.scores[i], **({"wins": ranking.wins[i]} if ranking.wins else {}),
                       "num_tokens": c.num_tokens, "finished": c.finished} for i, c in enumerate(cands)]
        w = ranking.winner
        out.append({"id": row.id, "prompt": row.messages, "candidates": candidates, "ranking": ranking.method,
                    "comparisons": ranking.comparisons, "order": ranking.order(),
                    "winner": {"index": w, "text": cands[w].text, "score": ranking.scores[w]}})
    return out


def format_mean_ci(stat: dict) -> str:
    """`mean [low, high]` of a `mean_ci` result, or "-" when there were no values."""
    if stat["mean"] is None:
        return "-"
    ci = stat["ci95"]
    return f"{stat['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def stream(policy: str, judge_path: str, prompts: str | Path, n: int, out: str | Path, config: BonConfig,
           need_scores: bool = False, resume: bool = False, finish=None, progress: bool = True) -> list[dict]:
    """Best-of-N over a prompts file, chunk by chunk into the journal `out` (one JSON line per
    prompt; `finish(record)` adds fields, e.g. rejection sampling's decisions). With `resume` the
    prompts already in `out` are kept and skipped, else `out` starts empty. Returns every prompt's row."""
    from genrm.data.lengths import fit_prompts
    from genrm.generation.base import SamplingParams, sampling_generator
    from genrm.judges.base import load_judge
    from genrm.runs import Journal

    out = Path(out)
    rows, over = fit_prompts(load_prompts(prompts, limit=config.limit), policy, config.sampling.max_new_tokens,
                             config.over_length)
    if over:
        print(f"genrm: skipped {len(over)} prompt(s) with no room for {config.sampling.max_new_tokens} new tokens in "
              f"the policy's context (over_length=skip); first: {over[0].pair.source}", flush=True)
    if not resume:
        out.unlink(missing_ok=True)
    with Journal(out, key=lambda r: r["id"]) as journal:
        todo = [r for r in rows if r.id not in journal]
        print(f"genrm: {len(rows)} prompts, {len(rows) - len(todo)} already done, n={n}", flush=True)
        if todo:
            s = config.sampling
            judge = load_judge(judge_path, kind=config.judge_kind, dtype=s.dtype)
            params = SamplingParams(n=n, temperature=s.temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens,
                                    seed=config.seed)
            with sampling_generator(policy, s) as generator:  # closed (engine shut down) when done or on an error
                for start in range(0, len(todo), config.chunk_size):
                    records = sample_and_rank(generator, judge, todo[start:start + config.chunk_size], params,
                                              config.ranking, config.eval.batch_size, need_scores, progress)
                    journal.append(finish(r) if finish else r for r in records)
                    print(f"genrm: {len(journal)}/{len(rows)} prompts done", flush=True)
        return [journal[r.id] for r in rows]
