"""A genrm judge as a reward function for TRL's GRPOTrainer (`reward_funcs=[JudgeReward(judge)]`).

    from trl import GRPOTrainer
    from genrm.policy.trl_reward import JudgeReward
    reward = JudgeReward.from_pretrained("runs/bt/checkpoint")            # BT: pointwise reward
    reward = JudgeReward.from_pretrained("smollm2-135m", reference="answer")  # pairwise judge
    GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=ds, ...)

TRL calls `reward(prompts=..., completions=..., completion_ids=..., **dataset_columns)` with one
entry per completion (conversational: message lists; standard: strings). A Bradley-Terry judge
(any pointwise judge) returns its reward for (prompt, completion). A pairwise judge (indicator, CoT) returns
p(completion better than the reference answer), the reference coming from the dataset column
named by `reference` (a string or an assistant message list), so that column must exist.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genrm.judges.base import PointwiseJudge
from genrm.policy.bon import p_first_better, pointwise_scores
from genrm.types import Message


def as_messages(value: Any, role: str) -> list[Message]:
    """TRL's prompt/completion in either format -> a message list."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return [{"role": m.get("role", role), "content": m["content"]} for m in value]
    raise ValueError(f"expected a string or a list of messages, got {type(value).__name__}")


def text_of(value: Any) -> str:
    return "\n\n".join(m["content"] for m in as_messages(value, "assistant"))


class JudgeReward:
    """Callable reward function for TRL built on any genrm judge."""

    def __init__(self, judge, reference: str = "reference", batch_size: int = 8):
        self.judge, self.reference, self.batch_size = judge, reference, batch_size
        self.pointwise = isinstance(judge, PointwiseJudge)
        self.__name__ = f"genrm_{getattr(judge, 'kind', 'judge')}"  # TRL logs rewards under this name

    @classmethod
    def from_pretrained(cls, path_or_id: str, reference: str = "reference", batch_size: int = 8,
                        kind: str | None = None, **options) -> JudgeReward:
        from genrm.judges.base import load_judge

        return cls(load_judge(path_or_id, kind=kind, **options), reference=reference, batch_size=batch_size)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs) -> list[float]:
        prompt_msgs = [as_messages(p, "user") for p in prompts]
        texts = [text_of(c) for c in completions]
        if self.pointwise:
            return pointwise_scores(self.judge, prompt_msgs, texts, self.batch_size)
        if self.reference not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("completion_ids", "trainer_state", "log_extra", "log_metric"))
            raise ValueError(f"a pairwise judge ({self.judge.kind}) scores completions against a reference answer: "
                             f"the dataset needs a '{self.reference}' column (columns seen: {columns}); "
                             "set JudgeReward(reference=NAME)")
        refs = [text_of(r) for r in kwargs[self.reference]]
        return p_first_better(self.judge, prompt_msgs, list(zip(texts, refs)), self.batch_size)
