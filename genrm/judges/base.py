"""The Judge protocols and `load_judge`, which rebuilds any judge from a checkpoint or model id.

Every judge judges pairs (`Judge.judge`). A pointwise judge (BT, the length baseline) also scores
one response at a time (`PointwiseJudge.score`): best-of-N, rejection sampling and the GRPO
adapter ask for that capability with `isinstance(judge, PointwiseJudge)`, never by kind.

A judge with a token limit says which pairs exceed it (`Bounded.too_long`, genrm.data.lengths).

A judge directory may hold `genrm_judge.json` (the judge card written at export). Without one,
a sequence-classification checkpoint with one label is a Bradley-Terry judge and a chat causal
LM is a zero-shot indicator judge. The name "length" is the length baseline.
"""
from __future__ import annotations

import importlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from genrm.data.lengths import TooLong
from genrm.models import resolve_model
from genrm.types import Judgment, Message, PreferencePair

CARD = "genrm_judge.json"
# judge kind -> "module:Class"; backends are imported only when used
JUDGES = {
    "bt": "genrm.judges.bt:BTJudge",
    "genrm": "genrm.judges.indicator:IndicatorJudge",
    "cot": "genrm.judges.cot:CoTJudge",
    "length": "genrm.judges.length:LengthJudge",
}
Response = str | list[Message]


@runtime_checkable
class Judge(Protocol):
    kind: str
    name: str

    def judge(self, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        ...


@runtime_checkable
class Bounded(Protocol):
    """A judge whose inputs have a token limit (genrm.data.lengths): `too_long(pairs)` lists the pairs
    whose judge input exceeds it. Its `judge()` refuses such pairs with a located error; callers
    that may skip them (evaluate, STaR, the server) ask first."""

    def too_long(self, pairs: Sequence[PreferencePair]) -> list[TooLong]:
        ...


@runtime_checkable
class PointwiseJudge(Judge, Protocol):
    def score(self, prompts: Sequence[list[Message]], responses: Sequence[Response], batch_size: int = 8,
              progress: bool = False) -> list[float]:
        """The reward of each response (a string or assistant messages) to its prompt, scored alone."""
        ...


def assistant(response: Response) -> list[Message]:
    return [{"role": "assistant", "content": response}] if isinstance(response, str) else list(response)


def judge_pointwise(judge: PointwiseJudge, pairs: Sequence[PreferencePair], batch_size: int = 8,
                    progress: bool = False) -> list[Judgment]:
    """Judgments of a pointwise judge: both responses scored alone (see `pointwise_judgments`)."""
    if not pairs:
        return []
    prompts, responses = both_responses(pairs)
    return pointwise_judgments(judge.score(prompts, responses, batch_size, progress))


def both_responses(pairs: Sequence[PreferencePair]) -> tuple[list[list[Message]], list[list[Message]]]:
    """(prompts, responses): every pair's chosen response, then every pair's rejected one."""
    return [p.prompt for p in pairs] * 2, [p.chosen for p in pairs] + [p.rejected for p in pairs]


def pointwise_judgments(scores: Sequence[float]) -> list[Judgment]:
    """From the scores of `both_responses`: p_chosen = sigmoid(score_chosen - score_rejected)."""
    n = len(scores) // 2
    out = []
    for chosen, rejected in zip(scores[:n], scores[n:]):
        diff = chosen - rejected
        p = 1.0 / (1.0 + math.exp(-diff)) if diff > -700 else 0.0
        out.append(Judgment(p_chosen=p, score_chosen=chosen, score_rejected=rejected))
    return out


def exact_probabilities(judge):
    """The judge with every vote drawn, for consumers of p_chosen itself rather than the verdict
    (adaptive CoT stopping keeps verdicts but changes vote shares); judges that stop early say so
    with `without_early_stop()`."""
    return judge.without_early_stop() if hasattr(judge, "without_early_stop") else judge


def read_card(path: str) -> dict:
    card = Path(path) / CARD
    return json.loads(card.read_text()) if card.is_file() else {}


def detect_kind(path: str) -> str:
    """'bt' for a one-label sequence classifier, 'genrm' for a causal LM."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    archs = config.architectures or []
    if any(a.endswith("ForSequenceClassification") for a in archs):
        if config.num_labels != 1:
            raise ValueError(f"{path}: a sequence classifier with {config.num_labels} labels is not a reward model (need 1)")
        return "bt"
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "genrm"
    raise ValueError(f"{path}: cannot tell the judge kind from architectures {archs}; pass kind=")


def load_judge(path_or_id: str, kind: str | None = None, **options) -> Judge:
    """Rebuild a judge: an exported genrm checkpoint, a plain one-label HF sequence classifier
    (BT), a plain chat causal LM (zero-shot indicator judge, or CoT with kind='cot'), or "length"."""
    kind = judge_kind(path_or_id, kind)
    if kind == "length":
        return judge_class("length")()
    path = judge_path(path_or_id)
    return judge_class(kind).from_pretrained(path, card=read_card(path), name=path_or_id, **options)


def judge_path(path_or_id: str) -> str:
    """The checkpoint directory of a judge: the model (resolved), or a `genrm train` run dir's checkpoint."""
    path = resolve_model(path_or_id)
    if not Path(path, CARD).is_file() and Path(path, "checkpoint", CARD).is_file():
        path = str(Path(path, "checkpoint"))
    return path


def judge_kind(path_or_id: str, kind: str | None = None) -> str:
    """The kind `load_judge(path_or_id, kind)` builds, without loading it (callers check options first)."""
    if path_or_id == "length" or kind == "length":
        return "length"
    if kind is not None:
        return kind
    path = judge_path(path_or_id)
    return read_card(path).get("kind") or detect_kind(path)


def judge_class(kind: str) -> type:
    """The class of a judge kind, imported from the JUDGES registry when first asked for."""
    if kind not in JUDGES:
        raise ValueError(f"unknown judge kind {kind!r} (expected one of {sorted(JUDGES)})")
    module, cls = JUDGES[kind].split(":")
    return getattr(importlib.import_module(module), cls)
