"""The TRL adapter: pointwise (BT) and pairwise-vs-reference rewards, and one real GRPO step (with a
group reward too; group mode itself: tests/test_group_rewards.py)."""
import math

import pytest

from genrm.policy.trl_reward import JudgeReward
from genrm.types import Judgment, PreferencePair


class LengthJudge:
    kind = "genrm"
    name = "length"

    def judge(self, pairs, batch_size=8, progress=False):
        return [Judgment(p_chosen=1 / (1 + math.exp(len(p.rejected_text) - len(p.chosen_text)))) for p in pairs]



def test_pairwise_reward_against_reference_in_both_formats():
    reward = JudgeReward(LengthJudge(), reference="answer")
    assert reward.__name__ == "genrm_genrm"
    conv = reward(prompts=[[{"role": "user", "content": "q"}]] * 2,
                  completions=[[{"role": "assistant", "content": "abc"}], [{"role": "assistant", "content": "a"}]],
                  answer=["ab", [{"role": "assistant", "content": "ab"}]], completion_ids=[[1], [2]], trainer_state=None)
    assert conv == pytest.approx([1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))])
    assert reward(prompts=["q"], completions=["ab"], answer=["ab"]) == pytest.approx([0.5])
    with pytest.raises(ValueError, match="'answer' column"):
        reward(prompts=["q"], completions=["ab"], reference=["x"])


def test_bt_reward_is_the_judges_score(tiny_bt_dir):
    from genrm import load_judge

    judge = load_judge(str(tiny_bt_dir))
    reward = JudgeReward(judge)
    prompt = [{"role": "user", "content": "What is 2+2?"}]
    got = reward(prompts=[prompt, prompt], completions=[[{"role": "assistant", "content": "4"}],
                                                        [{"role": "assistant", "content": "five"}]])
    pair = PreferencePair(id="x", prompt=prompt, chosen=[{"role": "assistant", "content": "4"}],
                          rejected=[{"role": "assistant", "content": "five"}], subset="t", source="t")
    j = judge.judge([pair])[0]
    assert got == pytest.approx([j.score_chosen, j.score_rejected], abs=1e-5)


def test_one_grpo_step_with_bt_pairwise_and_group_rewards(tiny_model_dir, tiny_bt_dir, tmp_path):
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    from genrm import load_judge

    calls = []

    class Counting(JudgeReward):
        def __call__(self, prompts, completions, **kwargs):
            out = super().__call__(prompts, completions, **kwargs)
            calls.append((self.__name__, len(completions), out))
            return out

    bt = Counting(load_judge(str(tiny_bt_dir)))
    pairwise = Counting(load_judge(str(tiny_model_dir), kind="genrm"), reference="reference")
    group = Counting(load_judge(str(tiny_model_dir), kind="genrm"), group="round_robin")
    ds = datasets.Dataset.from_list([
        {"prompt": [{"role": "user", "content": "What is 2+2?"}], "reference": "The answer is 4."},
        {"prompt": [{"role": "user", "content": "List three fruits."}], "reference": "apple, banana, cherry"},
    ])
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=4, max_steps=1, learning_rate=1e-3, logging_steps=1, report_to="none",
                      save_strategy="no", bf16=False, use_cpu=True, seed=0, disable_tqdm=True)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[bt, pairwise, group], args=args, train_dataset=ds)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == 1
    assert {name for name, _, _ in calls} == {"genrm_bt", "genrm_genrm", "genrm_genrm_round_robin"}
    assert all(n == 2 and all(math.isfinite(x) for x in out) for _, n, out in calls)
    assert all(0.0 <= x <= 1.0 for name, _, out in calls if name == "genrm_genrm" for x in out)
    logged = {k for row in trainer.state.log_history for k in row}
    assert "rewards/genrm_bt/mean" in logged and "rewards/genrm_genrm/mean" in logged
    assert "rewards/genrm_genrm_round_robin/mean" in logged
    # one prompt's 2 completions (per_device_train_batch_size=2, num_generations=2): BT strengths of a
    # group of 2, so +s and -s (0 and 0 if the two completions are the same text)
    group_rewards = next(out for name, _, out in calls if name == "genrm_genrm_round_robin")
    assert group_rewards[0] == pytest.approx(-group_rewards[1], abs=1e-9)
    # the BT rewards of a group's two samples differ (seeded), so the advantages are non-zero and the
    # step moves the policy
    bt_rewards = next(out for name, _, out in calls if name == "genrm_bt")
    assert bt_rewards[0] != bt_rewards[1]
    assert any(not p.detach().equal(before[n]) for n, p in trainer.model.named_parameters())
