"""A genrm judge as verl's custom reward function (`custom_reward_function` in verl's trainer config).

    custom_reward_function.path=pkg://genrm.policy.verl_reward      # or this file's path
    custom_reward_function.name=compute_score                       # naive / dapo reward managers
    custom_reward_function.name=compute_score_batch reward_model.reward_manager=batch   # one judge call per batch
    +custom_reward_function.reward_kwargs.judge=runs/bt             # a local judge, or:
    +custom_reward_function.reward_kwargs.url=http://127.0.0.1:5000 # a running `genrm serve`

verl (volcengine/verl b178a3c, verl/trainer/ppo/reward.py get_custom_reward_fn) loads the function by
name and merges `custom_reward_function.reward_kwargs` into every call. Its naive and dapo reward
managers (verl/workers/reward_manager/naive.py, dapo.py; the reward loop's
verl/experimental/reward_loop/reward_manager/naive.py) call, per response,
`compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)`; its batch manager
(verl/workers/reward_manager/batch.py) calls `compute_score_batch(data_sources=..., solution_strs=...,
ground_truths=..., extra_infos=..., **reward_model.reward_kwargs)` with the whole batch (numpy object
arrays or lists). Both return what verl accepts: a float per response.

What the judge compares: the policy's response (`solution_str`) for the prompt against the reference
answer (`ground_truth`, verl's `reward_model.ground_truth` column; or `extra_info[reference_key]`).
The prompt comes from `extra_info["prompt"]` or else `extra_info["question"]` (verl's gsm8k and geo3k
preprocessing store the raw question there; `prompt_key` names another key): a string is one user
turn, a message list is the conversation. A missing prompt is an error that names the keys present.

The reward:
- pairwise judges (`genrm`, `cot`): p(response better than the reference), the judge's `p_chosen` with
  the response as chosen (both display orders by default); a reference is required.
- pointwise judges (`bt`, `length`), `pointwise_reward="auto"` (default): with a reference,
  sigmoid(score(response) - score(reference)) (= the judge's `p_chosen`, in [0, 1]); without one
  (ground_truth None or empty), the raw score of the response. `"margin"` requires a reference,
  `"score"` always gives the raw score.
- an empty (whitespace-only) response compared with a reference gets 0.0 without a judge call (it
  loses; `genrm serve` refuses empty texts).

Backends: `judge=PATH_OR_ID` (anything `genrm.load_judge` accepts; `kind`, `judge_options` pass on to
it), loaded once per process and reused, or `url=http://HOST:PORT` of a running `genrm serve` (POST
/judge for comparisons, /score for raw scores, GET /health first in each call). Without either keyword, the
environment variables GENRM_JUDGE or GENRM_SERVE_URL (they must reach verl's reward workers, e.g.
through Ray's runtime_env). Other keywords: `batch_size` (local judge calls, default 8), `timeout`
(seconds per HTTP request, default 600). Every bad input is a ValueError naming the field
(`extra_infos[3]`, `ground_truths[0]`); an unknown keyword is one too.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from genrm.judges.base import PointwiseJudge, assistant, load_judge, pointwise_judgments
from genrm.types import Message, PreferencePair, turn

ENV_JUDGE, ENV_URL = "GENRM_JUDGE", "GENRM_SERVE_URL"
PROMPT_KEYS = ("prompt", "question")
POINTWISE_REWARDS = ("auto", "margin", "score")
OPTIONS = {"judge", "kind", "judge_options", "url", "batch_size", "timeout", "prompt_key", "reference_key",
           "pointwise_reward"}
VERL_KWARGS = {"reward_router_address", "reward_model_tokenizer"}  # verl's reward loop adds these; unused here
MAX_REQUEST_BYTES = 4 << 20  # per HTTP request; genrm serve refuses bodies over 8 MiB by default

_judges: dict[tuple, tuple[Any, threading.Lock]] = {}
_judges_lock = threading.Lock()


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs) -> float:
    """verl's per-response reward function (naive / dapo reward managers)."""
    return _rewards([solution_str], [ground_truth], [extra_info], kwargs, batched=False)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[dict | None] | None = None, **kwargs) -> list[float]:
    """verl's batched reward function (batch reward manager): one judge call for the whole batch."""
    n = len(solution_strs)
    if extra_infos is None:
        extra_infos = [None] * n
    for name, values in (("data_sources", data_sources), ("ground_truths", ground_truths), ("extra_infos", extra_infos)):
        if len(values) != n:
            raise ValueError(f"{name}: {len(values)} items for {n} solution_strs")
    return _rewards(list(solution_strs), list(ground_truths), list(extra_infos), kwargs, batched=True)


# ---- inputs ---------------------------------------------------------------------------------------


def _field(name: str, i: int, batched: bool) -> str:
    return f"{name}s[{i}]" if batched else name


def _messages(value: Any, where: str, role: str) -> list[Message]:
    """A string (one turn of `role`) or a message list (list, tuple or numpy array of dicts)."""
    if isinstance(value, str):
        return turn(role, value)
    if isinstance(value, (dict, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where}: expected a string or a list of messages, got {type(value).__name__}")
    out = []
    for m, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise ValueError(f"{where}[{m}]: expected a message {{'role': ..., 'content': str}}, got {message!r:.80}")  # noqa: TRY004 - one error type for bad data
        out.append({"role": message.get("role") or role, "content": message["content"]})
    return out


def _prompt(extra_info: Any, key: str | None, where: str) -> list[Message]:
    if extra_info is None:
        extra_info = {}
    if not isinstance(extra_info, dict):
        raise ValueError(f"{where}: expected a dict, got {type(extra_info).__name__}")  # noqa: TRY004 - one error type for bad data
    keys = (key,) if key else PROMPT_KEYS
    found = next((k for k in keys if extra_info.get(k) is not None), None)
    if found is None:
        wanted = " or ".join(f'{where}["{k}"]' for k in keys)
        present = sorted(str(k) for k in extra_info)
        raise ValueError(f"{where}: no prompt: genrm's judge needs {wanted} (the prompt text or its messages; "
                         f"keys present: {present}); add it in the data preprocessing, or set reward_kwargs prompt_key")
    messages = _messages(extra_info[found], f'{where}["{found}"]', "user")
    if not any(m["content"].strip() for m in messages):
        raise ValueError(f'{where}["{found}"]: empty prompt')
    return messages


def _reference(ground_truth: Any, extra_info: Any, key: str | None, where_gt: str, where_extra: str) -> str | None:
    if key:
        if not isinstance(extra_info, dict) or extra_info.get(key) is None:
            raise ValueError(f'{where_extra}["{key}"]: missing (reward_kwargs reference_key={key!r})')
        value, where = extra_info[key], f'{where_extra}["{key}"]'
    else:
        value, where = ground_truth, where_gt
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = "\n\n".join(m["content"] for m in _messages(value, where, "assistant"))
    return text if text.strip() else None


def _options(kwargs: dict) -> dict:
    unknown = sorted(set(kwargs) - OPTIONS - VERL_KWARGS)
    if unknown:
        raise ValueError(f"unknown reward_kwargs {unknown} (genrm's are {sorted(OPTIONS)})")
    mode = kwargs.get("pointwise_reward", "auto")
    if mode not in POINTWISE_REWARDS:
        raise ValueError(f"pointwise_reward: {mode!r} is not one of {', '.join(POINTWISE_REWARDS)}")
    judge, url = kwargs.get("judge"), kwargs.get("url")
    if judge and url:
        raise ValueError("reward_kwargs: give either judge (a local judge) or url (a running genrm serve), not both")
    if not judge and not url:
        judge, url = os.environ.get(ENV_JUDGE), os.environ.get(ENV_URL)
        if judge and url:
            raise ValueError(f"both {ENV_JUDGE} and {ENV_URL} are set: unset one, or pass reward_kwargs judge or url")
        if not judge and not url:
            raise ValueError(f"no judge: pass reward_kwargs judge=PATH_OR_ID or url=http://HOST:PORT (genrm serve), "
                             f"or set {ENV_JUDGE} or {ENV_URL}")
    return {**kwargs, "judge": judge, "url": url, "pointwise_reward": mode}


# ---- rewards --------------------------------------------------------------------------------------


def _rewards(solutions: list, ground_truths: list, extra_infos: list, kwargs: dict, batched: bool) -> list[float]:
    opts = _options(kwargs)
    prompts, responses, refs = [], [], []
    for i, (solution, gt, extra) in enumerate(zip(solutions, ground_truths, extra_infos)):
        if not isinstance(solution, str):
            raise ValueError(f"{_field('solution_str', i, batched)}: expected a string, got {type(solution).__name__}")  # noqa: TRY004 - one error type for bad data
        where_extra = _field("extra_info", i, batched)
        prompts.append(_prompt(extra, opts.get("prompt_key"), where_extra))
        refs.append(_reference(gt, extra, opts.get("reference_key"), _field("ground_truth", i, batched), where_extra))
        responses.append(solution)
    backend = _Remote(opts["url"], opts.get("timeout", 600)) if opts["url"] else _local(opts)
    pointwise, mode = backend.pointwise, opts["pointwise_reward"]
    raw = [pointwise and (mode == "score" or (mode == "auto" and ref is None)) for ref in refs]
    for i, (is_raw, ref) in enumerate(zip(raw, refs)):
        if not is_raw and ref is None:
            gt = f'{_field("extra_info", i, batched)}["{opts["reference_key"]}"]' if opts.get("reference_key") \
                else _field("ground_truth", i, batched)
            why = "a pairwise judge" if not pointwise else "pointwise_reward='margin'"
            raise ValueError(f"{gt}: no reference answer: {why} ({backend.kind}) compares the response with the "
                             "reference (None or empty here)")
    out: list[float | None] = [None] * len(responses)
    score_idx = [i for i in range(len(responses)) if raw[i]]
    if score_idx:
        for i, s in zip(score_idx, backend.score([prompts[i] for i in score_idx], [responses[i] for i in score_idx])):
            out[i] = float(s)
    pair_idx = []
    for i in range(len(responses)):
        if not raw[i]:
            if responses[i].strip():
                pair_idx.append(i)
            else:
                out[i] = 0.0  # an empty response loses to the reference
    if pair_idx:
        ps = backend.p_first([prompts[i] for i in pair_idx], [responses[i] for i in pair_idx], [refs[i] for i in pair_idx])
        for i, p in zip(pair_idx, ps):
            out[i] = float(p)
    return out  # type: ignore[return-value]


class _Local:
    """A judge loaded in this process; one call at a time (verl's reward loop calls from threads)."""

    def __init__(self, judge, lock: threading.Lock, batch_size: int):
        self.judge, self.lock, self.batch_size = judge, lock, batch_size
        self.pointwise = isinstance(judge, PointwiseJudge)
        self.kind = getattr(judge, "kind", "judge")

    def score(self, prompts: list[list[Message]], responses: list[str]) -> list[float]:
        with self.lock:
            return list(self.judge.score(prompts, responses, self.batch_size))

    def p_first(self, prompts: list[list[Message]], firsts: list[str], seconds: list[str]) -> list[float]:
        if self.pointwise:  # each distinct (prompt, reference) scored once: a GRPO group shares one
            refs = list(dict.fromkeys((json.dumps(p), s) for p, s in zip(prompts, seconds)))
            scores = self.score(prompts + [json.loads(p) for p, _ in refs], firsts + [s for _, s in refs])
            ref_score = dict(zip(refs, scores[len(firsts):]))
            mine = scores[:len(firsts)] + [ref_score[(json.dumps(p), s)] for p, s in zip(prompts, seconds)]
            return [j.p_chosen for j in pointwise_judgments(mine)]
        pairs = [PreferencePair(id=f"verl-{i}", prompt=p, chosen=assistant(a), rejected=assistant(b),
                                subset="verl", source=f"verl item {i}")
                 for i, (p, a, b) in enumerate(zip(prompts, firsts, seconds))]
        with self.lock:
            return [j.p_chosen for j in self.judge.judge(pairs, batch_size=self.batch_size)]


def _local(opts: dict) -> _Local:
    path, kind, options = str(opts["judge"]), opts.get("kind"), dict(opts.get("judge_options") or {})
    key = (path, kind, json.dumps(options, sort_keys=True, default=str))
    with _judges_lock:
        if key not in _judges:
            _judges[key] = (load_judge(path, kind=kind, **options), threading.Lock())
        judge, lock = _judges[key]
    return _Local(judge, lock, int(opts.get("batch_size", 8)))


class _Remote:
    """A running `genrm serve` (genrm/serving/protocol.py): POST /judge, POST /score, GET /health."""

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = str(url).rstrip("/"), float(timeout)
        health = self.request("GET", "/health")  # each call: the server may have been restarted with another judge
        self.pointwise, self.kind = bool(health.get("pointwise")), health.get("kind", "judge")

    def request(self, method: str, path: str, body: dict | None = None, retries: int = 10) -> dict:
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(retries + 1):
            req = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                if err.code == 503 and attempt < retries:  # the server's queue is full: wait as it says
                    time.sleep(float(err.headers.get("Retry-After") or 1))
                    continue
                try:
                    message = json.loads(err.read()).get("error", "")
                except (ValueError, AttributeError):
                    message = err.reason
                raise RuntimeError(f"genrm serve at {self.url}: {method} {path} answered {err.code}: {message}") from None
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise ConnectionError(f"cannot reach genrm serve at {self.url} ({reason}); start one with "
                                      "`genrm serve JUDGE --port PORT` or fix reward_kwargs url / GENRM_SERVE_URL") from None
        raise AssertionError("unreachable")

    def chunks(self, items: list[dict]) -> list[list[dict]]:
        out, size = [[]], 0
        for item in items:
            n = len(json.dumps(item))
            if out[-1] and size + n > MAX_REQUEST_BYTES:
                out.append([])
                size = 0
            out[-1].append(item)
            size += n
        return out if out[0] else []

    def score(self, prompts: list[list[Message]], responses: list[str]) -> list[float]:
        items = []
        for i, (prompt, response) in enumerate(zip(prompts, responses)):
            if len(prompt) != 1 or prompt[0]["role"] != "user":
                raise ValueError(f"item {i}: genrm serve's /score takes a prompt of one user turn, this one has "
                                 f"{len(prompt)} messages; give a reference answer (compared through /judge) or use "
                                 "a local judge")
            text = prompt[0]["content"]
            items.append({"query": text + response, "prompt": text})
        out = []
        for chunk in self.chunks(items):
            answer = self.request("POST", "/score", {"query": [c["query"] for c in chunk],
                                                     "prompts": [c["prompt"] for c in chunk]})
            out += answer["rewards"]
        return out

    def p_first(self, prompts: list[list[Message]], firsts: list[str], seconds: list[str]) -> list[float]:
        items = [{"id": i, "prompt": p, "first": a, "second": b}
                 for i, (p, a, b) in enumerate(zip(prompts, firsts, seconds))]
        out = []
        for chunk in self.chunks(items):
            out += [j["p_first"] for j in self.request("POST", "/judge", {"pairs": chunk})["judgments"]]
        if not all(math.isfinite(p) for p in out):
            raise RuntimeError(f"genrm serve at {self.url}: a non-finite p_first")
        return out
