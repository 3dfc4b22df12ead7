"""genrm.policy.verl_reward under verl's own reward managers (not part of the test suite: needs verl).

    python -m venv /tmp/verl-venv && /tmp/verl-venv/bin/pip install torch==2.13.0 verl
    PYTHONPATH=. /tmp/verl-venv/bin/python benchmarks/verl_reward_managers.py [--judge length|PATH]

Loads the function through verl's get_custom_reward_fn (verl/trainer/ppo/reward.py; config key
`reward.custom_reward_function` in verl >= 0.9, `custom_reward_function` before: both are set), builds
a DataProto as verl's rollout leaves it (left-padded prompts, right-padded responses, attention
mask, data_source / reward_model / extra_info columns as gsm8k preprocessing writes them), and runs
verl's NaiveRewardManager and BatchRewardManager (verl/workers/reward_manager/) and, where present,
the reward loop's NaiveRewardManager (verl/experimental/reward_loop/reward_manager/naive.py), with the
judge local and behind `genrm serve`. Every reward must equal the judge's own value for the pair
(response vs ground_truth): exit 1 if one does not.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import sys

import numpy as np
import torch

ITEMS = [("What is 2+2?", "4", "The answer is 4."), ("What is 2+2?", "It is five, I think.", "The answer is 4."),
         ("List three fruits.", "apple, banana, cherry", "pear, plum, fig"), ("Name a colour.", "blue", None)]


class CharTokenizer:
    """Token id = character code, 0 = padding: decode is exact, so the texts verl decodes are known."""

    pad_token_id = 0

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(int(i)) for i in ids if int(i) != 0)


def data_proto(items):
    from verl import DataProto

    width_p = max(len(q) for q, _, _ in items)
    width_r = max(len(r) for _, r, _ in items) + 2
    prompts = torch.zeros(len(items), width_p, dtype=torch.long)
    responses = torch.zeros(len(items), width_r, dtype=torch.long)
    mask = torch.zeros(len(items), width_p + width_r, dtype=torch.long)
    for i, (q, r, _) in enumerate(items):
        r = r or " "  # verl's rollout returns at least one token
        prompts[i, width_p - len(q):] = torch.tensor([ord(c) for c in q])
        responses[i, :len(r)] = torch.tensor([ord(c) for c in r])
        mask[i, width_p - len(q):width_p] = 1
        mask[i, width_p:width_p + len(r)] = 1
    non_tensors = {
        "data_source": np.array(["openai/gsm8k"] * len(items), dtype=object),
        "reward_model": np.array([{"style": "model", "ground_truth": gt} for _, _, gt in items], dtype=object),
        "extra_info": np.array([{"split": "train", "index": i, "question": q} for i, (q, _, _) in enumerate(items)],
                               dtype=object),
    }
    return DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
                               non_tensors=non_tensors)


def last_token_rewards(tensor: torch.Tensor) -> list[float]:
    return [float(row[row.nonzero().max()]) if row.any() else 0.0 for row in tensor]


def expected(judge_path: str, items) -> list[float]:
    """The judge called directly: p_chosen of (response vs reference), the raw score without one."""
    from genrm import load_judge
    from genrm.types import PreferencePair

    judge = load_judge(judge_path)
    out = []
    for i, (q, r, gt) in enumerate(items):
        prompt = [{"role": "user", "content": q}]
        if gt is None:
            out.append(judge.score([prompt], [r])[0])
        else:
            pair = PreferencePair(id=str(i), prompt=prompt, chosen=[{"role": "assistant", "content": r}],
                                  rejected=[{"role": "assistant", "content": gt}], subset="x", source="x")
            out.append(judge.judge([pair])[0].p_chosen)
    return out


def run(reward_kwargs: dict, items) -> dict[str, list[float]]:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.batch import BatchRewardManager
    from verl.workers.reward_manager.naive import NaiveRewardManager

    def config(name):
        fn = {"path": "pkg://genrm.policy.verl_reward", "name": name, "reward_kwargs": reward_kwargs}
        return OmegaConf.create({"custom_reward_function": fn, "reward": {"custom_reward_function": fn}})

    per_item, batched, tok = get_custom_reward_fn(config("compute_score")), get_custom_reward_fn(config("compute_score_batch")), CharTokenizer()
    got = {"workers.naive": last_token_rewards(NaiveRewardManager(tok, 0, compute_score=per_item)(data_proto(items))),
           "workers.batch": last_token_rewards(BatchRewardManager(tok, 0, compute_score=batched)(data_proto(items)))}
    try:
        from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager as LoopNaive
    except ImportError:
        return got
    manager = LoopNaive(config("compute_score"), tok, compute_score=per_item)
    data = data_proto(items)

    async def score_all():
        return await asyncio.gather(*[manager.run_single(data[i:i + 1]) for i in range(len(data))])

    got["reward_loop.naive"] = [r["reward_score"] for r in manager.loop.run_until_complete(score_all())]
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judge", default="length", help="a judge load_judge accepts (default: length)")
    args = parser.parse_args()
    import verl

    from genrm import load_judge
    from genrm.serving.server import JudgeServer

    print(f"verl {verl.__version__}, torch {torch.__version__}")
    want = expected(args.judge, ITEMS)
    server = JudgeServer(load_judge(args.judge), port=0).start()
    failed = False
    try:
        for backend, kwargs in (("local", {"judge": args.judge}), ("genrm serve", {"url": server.url})):
            for manager, rewards in run(kwargs, ITEMS).items():
                ok = all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5) for a, b in zip(rewards, want))
                failed |= not ok
                print(f"{backend:12s} {manager:18s} {'ok  ' if ok else 'DIFF'} {[round(x, 6) for x in rewards]}")
    finally:
        server.stop()
    print(f"{'direct':12s} {'judge':18s}      {[round(x, 6) for x in want]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
