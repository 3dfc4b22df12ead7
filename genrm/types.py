"""The record types shared across genrm: PreferencePair, Judgment, Score and EvalResult."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

Message = dict  # {"role": "system" | "user" | "assistant", "content": str}


def turn(role: str, text: str) -> list[Message]:
    """One message as a conversation part: [{"role": role, "content": text}]."""
    return [{"role": role, "content": text}]
Verdict = Literal["chosen", "rejected", "tie"]


@dataclass(frozen=True)
class PreferencePair:
    """One human preference: for the conversation `prompt`, `chosen` is better than `rejected`.

    `prompt` is the message list up to the answer (multi-turn history kept); `chosen` and
    `rejected` are the assistant message(s) that differ. `source` locates the row ("file:row").
    """

    id: str
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    subset: str
    source: str

    @property
    def chosen_text(self) -> str:
        return "\n\n".join(m["content"] for m in self.chosen)

    @property
    def rejected_text(self) -> str:
        return "\n\n".join(m["content"] for m in self.rejected)

    @property
    def key(self) -> str:
        """A hash of the pair's content (not of where it was read from): journal keys, data hashes
        and the seeded display order all use it, so they survive reordering and resume."""
        return hashlib.sha256(record_bytes(self)).hexdigest()[:24]

    @property
    def prompt_key(self) -> str:
        """A hash of the prompt alone: pairs that share a prompt are one unit in paired tests
        (they are not independent), and splits are checked for shared prompts with it."""
        return hashlib.sha256(json.dumps(self.prompt, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)


def record_bytes(item) -> bytes:
    """An evaluated record's content (without `source`), as canonical JSON."""
    record = {k: v for k, v in vars(item).items() if k != "source"}
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode()


@dataclass
class Judgment:
    """A judge's opinion of one PreferencePair.

    `p_chosen` is the probability that the chosen response is better. `parsed` is False when a
    generative judge produced no readable verdict at all (then p_chosen is 0.5 by policy and the
    scorer counts it separately). Pairwise judges keep the per-order values: `p_chosen_first` is
    p_chosen when the chosen response was shown first, `p_chosen_second` when shown second; a judge
    that shows one order per pair sets only the one it showed. Pointwise judges (BT, length) set
    `score_chosen` and `score_rejected`.
    """

    p_chosen: float
    parsed: bool = True
    p_chosen_first: float | None = None
    p_chosen_second: float | None = None
    score_chosen: float | None = None
    score_rejected: float | None = None
    votes: dict[str, int] = field(default_factory=dict)
    rationales: list[str] = field(default_factory=list)
    rationale_tokens: list[int] = field(default_factory=list)  # tokens the model sampled per rationale
    forced_verdicts: int = 0  # rationales whose verdict the judge forced (judges/cot.py force_verdict), not the model
    # per order shown ("chosen_first", "chosen_second"): each sample's [vote, sampled tokens] in sample order, where
    # vote is "chosen", "rejected" or "unparsed" (CoT judges; genrm.eval.calibration.votes_curve)
    order_votes: dict[str, list] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        if self.score_chosen is not None and self.score_rejected is not None:
            diff = self.score_chosen - self.score_rejected
            return "chosen" if diff > 0 else "rejected" if diff < 0 else "tie"
        return "chosen" if self.p_chosen > 0.5 else "rejected" if self.p_chosen < 0.5 else "tie"

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}
        out["verdict"] = self.verdict
        return out


@dataclass
class Score:
    """Accuracy of one group of judged examples under the credit policy (genrm.eval.credit).

    `accuracy` is the mean credit over `n` examples with its Wilson 95% interval `ci95`;
    `length_baseline` the same for "pick the longer response". Per display order:
    `chosen_first_accuracy` over the `n_chosen_first` examples judged with the chosen response shown
    first (both orders: all of them), likewise for second. `metric` names a non-accuracy figure
    (RewardBench 2 Ties), whose parts are in `components`.
    """

    accuracy: float
    n: int
    ci95: list[float] | None
    length_baseline: float | None = None
    chosen_first_accuracy: float | None = None
    chosen_second_accuracy: float | None = None
    n_chosen_first: int = 0
    n_chosen_second: int = 0
    ties: int = 0
    unparsed: int = 0
    metric: str = "accuracy"
    components: dict | None = None


@dataclass
class EvalResult:
    """One judge on one set of pairs: what every genrm figure is made of (`genrm.eval.evaluate`).

    `pooled` scores every example together, `subsets` each subset; for RewardBench-named subsets
    `sections`, `overall` and `overall_legacy` follow the official tables. `examples` holds the
    per-example credits (id, subset, correct, length_correct, per-order credits), so two results
    on the same pairs can be compared pair by pair (genrm.stats.mcnemar). `chance` is the accuracy
    of a judge that guesses. `figures` holds a bench's own official table where it has one (RM-Bench
    easy / normal / hard per domain, JudgeBench per source category). `skipped` says what was left out (over-length pairs per subset, invalid
    rows per kind) and `memory` the peak memory. `to_dict()` is what `results.json` holds.
    """

    bench: str
    model: str | None
    judge: str | None
    n: int
    pooled: Score
    subsets: dict[str, Score]
    sections: dict[str, float]
    overall: float | None
    overall_legacy: float | None
    length_baseline: dict
    examples: list[dict]
    counts: dict
    tie_policy: dict
    data_hash: str
    genrm_version: str
    data: str | None = None
    resumed_judgments: int = 0
    coverage: dict = field(default_factory=dict)
    other_subsets: list[str] = field(default_factory=list)
    chance: float = 0.5
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None
    skipped: dict = field(default_factory=dict)  # left out, with counts per subset (genrm.data.lengths.skip_report)
    memory: dict = field(default_factory=dict)  # peak RSS (and CUDA) of the process, GiB
    options: dict = field(default_factory=dict)  # the judge's card and how it was loaded (dtype, backend, sampling)
    behaviour: dict = field(default_factory=dict)  # position consistency; for CoT judges rationale tokens, own verdicts
    calibration: dict = field(default_factory=dict)  # ECE and reliability bins of p_chosen (genrm.eval.calibration)
    votes_curve: list = field(default_factory=list)  # CoT: accuracy and tokens per decision at k votes per order
    figures: dict = field(default_factory=dict)  # a bench's own official figures (RM-Bench, JudgeBench: genrm.eval)

    @property
    def accuracy(self) -> float:
        return self.pooled.accuracy

    @property
    def ci95(self) -> list[float] | None:
        return self.pooled.ci95

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EvalResult:
        known = {f.name for f in fields(cls)}
        out = {k: v for k, v in data.items() if k in known}
        out["pooled"] = Score(**data["pooled"])
        out["subsets"] = {k: Score(**v) for k, v in data["subsets"].items()}
        return cls(**out)
