"""The judge server's wire protocol: request bodies -> judge inputs, judgments -> answer bodies.

POST /score (also /get_reward, the path of OpenRLHF's own serve_rm) is OpenRLHF's remote reward
model protocol: `{"query": [str], "prompts": [str] (optional), "labels": [...] (ignored)}` ->
`{"rewards": [float], "scores": [float], "extra_logs": {}}` (older OpenRLHF reads all three keys).
A query is the decoded prompt + response. With `prompts`, each query must start with its prompt
and the response is the rest; a trailing EOS token text (the judge tokenizer's) is dropped, since
the judge's chat template closes the turn itself. A prompt rendered with the judge's own chat
template for one user turn (OpenRLHF `--apply_chat_template` with the judge's model family) is
unwrapped to that user text; any other prompt string is the user's text as it stands. Without
`prompts` each query is the response to an empty prompt.

POST /judge: `{"pairs": [{"prompt": str | messages, "first": str | messages, "second": ..., "id": ...}]}`
-> `{"judgments": [{"id", "p_first", "verdict": "first"|"second"|"tie", "parsed", ...}]}`. Each item
is the PreferencePair (id = the given id or the item's index, prompt, chosen = first, rejected =
second, subset "serve"), judged by its content alone (genrm.serving.cache.content_pair: the id is
the answer's, never the judge's input, so a one-order judge's seeded order depends on the content
only), and `p_first` is that pair's `p_chosen`. Per-order values:
`p_first_as_given` (shown in the order given) and `p_first_swapped`, for the orders the judge showed;
pointwise judges add `score_first`/`score_second`, CoT judges `votes` and `rationales`.

POST /group_reward: `{"prompt": str | messages, "completions": [str | messages, ...], "scheme":
"round_robin" | "k_random" | "knockout" (default round_robin), "k": int >= 1 (k_random, default 2),
"seed": int (default 0)}` -> `{"rewards": [float], "wins": [float], "matches": [int], "scheme",
"comparisons": [{"first", "second", "p_first", "round"}]}`: the completions of one prompt compared
with each other (genrm.judges.tournament.group_rewards), rewards in the order given.

Any bad field is a RequestError naming it (`pairs[3].first: missing field`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from genrm.data.pairs import messages_of
from genrm.judges.tournament import SCHEMES, GroupRewards
from genrm.types import Judgment, Message, PreferencePair

SLOT = "\u2063genrm-prompt-slot\u2063"  # stands for the user's text when reading a chat template's frame


class RequestError(ValueError):
    """A request the server answers with `status` and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatFrame:
    """The judge's chat template around one user turn (`head` + text + `tail`) and its EOS text."""

    head: str
    tail: str
    eos: str | None

    @classmethod
    def of(cls, tokenizer) -> ChatFrame | None:
        from genrm.data.chat import render

        try:
            text = render(tokenizer, [{"role": "user", "content": SLOT}])
        except Exception:  # noqa: BLE001 - no usable chat template: prompts stay as they are
            return None
        if text.count(SLOT) != 1:
            return None
        head, tail = text.split(SLOT)
        return cls(head, tail, tokenizer.eos_token or None)

    def user_text(self, prompt: str) -> str | None:
        """The user's text of a prompt rendered by this template for one user turn, else None."""
        if not (prompt.startswith(self.head) and prompt.endswith(self.tail)) or len(prompt) < len(self.head) + len(self.tail):
            return None
        text = prompt[len(self.head):len(prompt) - len(self.tail)]
        return None if self.tail in text else text


def parse_json(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(f"body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise RequestError(f"body: expected a JSON object, got {type(body).__name__}")
    return body


def string_list(body: dict, key: str) -> list[str]:
    value = body[key]
    if not isinstance(value, list):
        raise RequestError(f"{key}: expected a list of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise RequestError(f"{key}[{i}]: expected a string, got {type(item).__name__}")
    return value


def score_request(body: dict, frame: ChatFrame | None) -> tuple[list[list[Message]], list[str]]:
    """(prompts, responses) of a /score body, split as the module docstring says."""
    if "query" not in body:
        raise RequestError("query: missing field (a list of prompt + response texts)")
    queries = string_list(body, "query")
    if body.get("prompts") is None:
        return [[] for _ in queries], queries
    texts = string_list(body, "prompts")
    if len(texts) != len(queries):
        raise RequestError(f"prompts: {len(texts)} items for {len(queries)} queries")
    prompts, responses = [], []
    for i, (query, text) in enumerate(zip(queries, texts)):
        if not query.startswith(text):
            raise RequestError(f"query[{i}]: does not start with prompts[{i}], so the response cannot be split off")
        response = query[len(text):]
        if frame is not None and frame.eos and response.endswith(frame.eos):
            response = response[:-len(frame.eos)]
        user = frame.user_text(text) if frame is not None else None
        content = text if user is None else user
        prompts.append([{"role": "user", "content": content}] if content else [])
        responses.append(response)
    return prompts, responses


def judge_request(body: dict) -> list[PreferencePair]:
    """The PreferencePairs of a /judge body (first = chosen, second = rejected)."""
    if "pairs" not in body:
        raise RequestError("pairs: missing field (a list of {prompt, first, second})")
    if not isinstance(body["pairs"], list):
        raise RequestError(f"pairs: expected a list, got {type(body['pairs']).__name__}")
    return [pair_of(item, i) for i, item in enumerate(body["pairs"])]


def pair_of(item: Any, i: int) -> PreferencePair:
    def fail(field, problem, kind=None):
        raise RequestError(f"{field}: {problem}")

    where = f"pairs[{i}]"
    if not isinstance(item, dict):
        fail(where, f"expected an object with prompt, first, second, got {type(item).__name__}")
    for key in ("prompt", "first", "second"):
        if key not in item:
            fail(f"{where}.{key}", "missing field")
    pair_id = item.get("id", i)
    if not isinstance(pair_id, (str, int)) or isinstance(pair_id, bool):
        fail(f"{where}.id", f"expected a string or an integer, got {type(pair_id).__name__}")
    prompt = messages_of(item["prompt"], f"{where}.prompt", "user", fail)
    first, second = (messages_of(item[k], f"{where}.{k}", "assistant", fail) for k in ("first", "second"))
    for key, messages in (("first", first), ("second", second)):
        for m, message in enumerate(messages):
            if message["role"] != "assistant":
                fail(f"{where}.{key}[{m}].role", f"expected 'assistant', got {message['role']!r}")
    return PreferencePair(id=str(pair_id), prompt=prompt, chosen=first, rejected=second, subset="serve",
                          source=f"request {where}")


def judgment_answer(pair: PreferencePair, j: Judgment) -> dict:
    """One /judge answer item; values the judgment does not carry are left out."""
    out = {"id": pair.id, "p_first": j.p_chosen, "verdict": {"chosen": "first", "rejected": "second"}.get(j.verdict, "tie"),
           "parsed": j.parsed, "p_first_as_given": j.p_chosen_first, "p_first_swapped": j.p_chosen_second,
           "score_first": j.score_chosen, "score_second": j.score_rejected}
    if j.votes:
        out["votes"] = {"first": j.votes.get("chosen", 0), "second": j.votes.get("rejected", 0),
                        "unparsed": j.votes.get("unparsed", 0)}
    if j.rationales:
        out["rationales"] = j.rationales
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class GroupRequest:
    prompt: list[Message]
    completions: list[list[Message]]
    scheme: str = "round_robin"
    k: int = 2
    seed: int = 0


def group_request(body: dict) -> GroupRequest:
    """The group of a /group_reward body."""
    def fail(field, problem, kind=None):
        raise RequestError(f"{field}: {problem}")

    for key in ("prompt", "completions"):
        if key not in body:
            fail(key, "missing field")
    prompt = messages_of(body["prompt"], "prompt", "user", fail)
    if not isinstance(body["completions"], list):
        fail("completions", f"expected a list of strings or message lists, got {type(body['completions']).__name__}")
    if not body["completions"]:
        fail("completions", "empty list (a group needs at least one completion)")
    completions = []
    for i, item in enumerate(body["completions"]):
        messages = messages_of(item, f"completions[{i}]", "assistant", fail)
        for m, message in enumerate(messages):
            if message["role"] != "assistant":
                fail(f"completions[{i}][{m}].role", f"expected 'assistant', got {message['role']!r}")
        completions.append(messages)
    scheme = body.get("scheme", "round_robin")
    if scheme not in SCHEMES:
        fail("scheme", f"expected one of {', '.join(SCHEMES)}, got {scheme!r}")
    numbers = {}
    for key, default, low in (("k", 2, 1), ("seed", 0, None)):
        value = body.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            fail(key, f"expected an integer, got {type(value).__name__}")
        if low is not None and value < low:
            fail(key, f"must be at least {low}, got {value}")
        numbers[key] = value
    return GroupRequest(prompt, completions, scheme, numbers["k"], numbers["seed"])


def group_answer(result: GroupRewards) -> dict:
    return {"scheme": result.scheme, "rewards": result.rewards, "wins": result.wins, "matches": result.matches,
            "comparisons": [{"first": c.first, "second": c.second, "p_first": c.p_first, "round": c.round}
                            for c in result.comparisons]}
