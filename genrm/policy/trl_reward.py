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

Group mode (`group="round_robin" | "k_random" | "knockout"`, any judge; no reference column): the
completions of one prompt are compared with each other and each gets its group reward
(genrm.judges.tournament: Bradley-Terry log-strengths, or knockout win rates; order-invariant).

    reward = JudgeReward.from_pretrained("smollm2-135m", group="k_random", k=4)

TRL calls a reward function in every process on that process's slice of the generation batch, in
which the num_generations completions of a prompt are consecutive and the slices are contiguous in
process order (trl/trainer/grpo_trainer.py: RepeatSampler with mini_repeat_count=num_generations,
the figure in `_get_train_sampler`; `_calculate_rewards` gathers the rewards in process order). A
slice need not hold whole groups (per_device_train_batch_size 3, num_generations 2: one group is
split between two processes), so every process gathers all prompts and completions first
(genrm.distributed.gather_lists), cuts them into groups, has the matches judged once, sharded across
the processes (genrm.distributed.judge_all), and returns its own slice. A group is a run of
consecutive completions with the same prompt; with `num_generations=G` each run is cut into groups
of G (two neighbouring groups with the same prompt text are then told apart).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genrm.distributed import gather_lists, judge_all
from genrm.judges.base import PointwiseJudge
from genrm.judges.tournament import check_scheme, group_rewards, judge_probabilities, p_first_better
from genrm.policy.bon import pointwise_scores
from genrm.types import Message, turn


def as_messages(value: Any, role: str) -> list[Message]:
    """TRL's prompt/completion in either format -> a message list."""
    if isinstance(value, str):
        return turn(role, value)
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return [{"role": m.get("role", role), "content": m["content"]} for m in value]
    raise ValueError(f"expected a string or a list of messages, got {type(value).__name__}")


def text_of(value: Any) -> str:
    return "\n\n".join(m["content"] for m in as_messages(value, "assistant"))


class JudgeReward:
    """Callable reward function for TRL built on any genrm judge: pointwise, against a reference
    column, or (with `group`) a group reward among each prompt's completions."""

    def __init__(self, judge, reference: str = "reference", batch_size: int = 8, group: str | None = None,
                 k: int = 2, num_generations: int | None = None, seed: int = 0, prior: float = 0.1):
        if group is not None:
            check_scheme(group, k)
        if num_generations is not None and (isinstance(num_generations, bool) or not isinstance(num_generations, int)
                                            or num_generations < 1):
            raise ValueError(f"num_generations must be a positive integer, got {num_generations!r}")
        self.judge, self.reference, self.batch_size = judge, reference, batch_size
        self.group, self.k, self.num_generations, self.seed, self.prior = group, k, num_generations, seed, prior
        self.pointwise = isinstance(judge, PointwiseJudge)
        # TRL logs rewards under this name
        self.__name__ = f"genrm_{getattr(judge, 'kind', 'judge')}" + (f"_{group}" if group else "")

    @classmethod
    def from_pretrained(cls, path_or_id: str, reference: str = "reference", batch_size: int = 8,
                        kind: str | None = None, group: str | None = None, k: int = 2,
                        num_generations: int | None = None, seed: int = 0, **options) -> JudgeReward:
        from genrm.judges.base import load_judge

        return cls(load_judge(path_or_id, kind=kind, **options), reference=reference, batch_size=batch_size,
                   group=group, k=k, num_generations=num_generations, seed=seed)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs) -> list[float]:
        if self.group is not None:
            return self.group_call(prompts, completions)
        prompt_msgs = [as_messages(p, "user") for p in prompts]
        texts = [text_of(c) for c in completions]
        if self.pointwise:
            return pointwise_scores(self.judge, prompt_msgs, texts, self.batch_size)
        if self.reference not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("completion_ids", "trainer_state", "log_extra", "log_metric"))
            raise ValueError(f"a pairwise judge ({self.judge.kind}) scores completions against a reference answer: "
                             f"the dataset needs a '{self.reference}' column (columns seen: {columns}); "
                             "set JudgeReward(reference=NAME), or compare each prompt's completions with each other "
                             "with JudgeReward(group='round_robin' | 'k_random' | 'knockout')")
        refs = [text_of(r) for r in kwargs[self.reference]]
        return p_first_better(self.judge, prompt_msgs, list(zip(texts, refs)), self.batch_size)

    def group_call(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """This process's rewards: all processes' items gathered, grouped, judged once (sharded)."""
        # gathered before anything can fail, so that every process fails alike (none waits on a collective)
        slices, rank = gather_lists([(list(prompts), list(completions))])
        for r, ((ps, cs),) in enumerate(slices):
            if len(ps) != len(cs):
                raise ValueError(f"process {r}: {len(ps)} prompts for {len(cs)} completions")
        start = sum(len(ps) for (ps, _), in slices[:rank])
        prompt_msgs = [as_messages(p, "user") for (ps, _), in slices for p in ps]
        texts = [text_of(c) for (_, cs), in slices for c in cs]
        groups = group_spans(prompt_msgs, self.num_generations)
        results = group_rewards(judge_probabilities(self.judge, self.batch_size, judge_all),
                                [(prompt_msgs[a], texts[a:b]) for a, b in groups], self.group, self.k, self.seed,
                                self.prior)
        rewards = [r for result in results for r in result.rewards]
        return rewards[start:start + len(prompts)]


def group_spans(prompts: Sequence[list[Message]], num_generations: int | None = None) -> list[tuple[int, int]]:
    """[start, end) of each group: runs of consecutive equal prompts, each cut into groups of
    `num_generations` when given (a run whose length is not a multiple of it is an error)."""
    spans, start = [], 0
    for i in range(1, len(prompts) + 1):
        if i == len(prompts) or prompts[i] != prompts[start]:
            n = i - start
            if num_generations is not None and n % num_generations:
                raise ValueError(f"completions {start}..{i - 1} share a prompt but are not a multiple of "
                                 f"num_generations={num_generations} ({n}); is num_generations the trainer's?")
            size = num_generations or n
            spans += [(a, a + size) for a in range(start, i, size)]
            start = i
    return spans
