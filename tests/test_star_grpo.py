"""STaR-GRPO (genrm star --method grpo): the reward terms against hand-computed values, the prompts
(both orders adjacent, one order balanced), the forced-verdict rollout's loss mask, one iteration end
to end on the tiny verdict model (TRL's GRPOTrainer, the forced rollout, the CoT evaluation), config
checks, and a run that fails in its second iteration resuming without retraining the first."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from test_cot import build_verdict_model, make_pairs
from test_star import TINY as STAR_TINY

from genrm.config import ConfigError
from genrm.generation.base import Completion
from genrm.star import samples as S
from genrm.star.config import resolve_config
from genrm.train import grpo as G

TINY = {**STAR_TINY, "force_verdict": True, "train": {**STAR_TINY["train"], "max_steps": 3}}


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, tmp_path_factory):
    return str(build_verdict_model(tiny_model_dir, tmp_path_factory.mktemp("grpo-verdict")))


def test_reward_terms_by_hand():
    texts = ["why [[A]]", "no tag", "[[A]] then [[B]]", "why [[B]]"]
    answers = ["A", "A", "B", "A"]
    assert G.correct_terms(texts, answers) == [1.0, 0.0, 1.0, 0.0]  # the last tag counts; no tag earns nothing
    assert G.format_terms(texts, [False, False, True, False]) == [1.0, 0.0, 0.0, 1.0]  # a forced tag is not the model's
    assert G.text_of([{"role": "assistant", "content": "x [[B]]"}]) == "x [[B]]"
    # pair p: chosen_first completions say A (chosen), A (chosen); chosen_second ones say A (rejected), B (chosen), none
    choices = [G.picked(t, a) for t, a in [("[[A]]", "A"), ("[[A]]", "A"), ("[[A]]", "B"), ("[[B]]", "B"), ("", "B")]]
    assert choices == ["chosen", "chosen", "rejected", "chosen", None]
    orders = ["chosen_first"] * 2 + ["chosen_second"] * 3
    terms = G.consistency_terms(choices + ["chosen"], ["p"] * 5 + ["q"], orders + ["chosen_first"])
    assert terms == [1 / 3, 1 / 3, 0.0, 1.0, 0.0, None]  # q's other order is not in the batch: no term


def test_reward_functions_weights_and_budget():
    budget = G.Budget()
    funcs, weights = G.reward_functions({"correct": 1.0, "consistency": 0.0, "format": 0.2}, budget)
    assert [f.__name__ for f in funcs] == ["correct", "format"] and weights == [1.0, 0.2]  # weight 0: not computed
    completions = [[{"role": "assistant", "content": "a [[A]]"}], [{"role": "assistant", "content": "b"}]]
    assert funcs[0]([None, None], completions, answer=["A", "A"], forced=[True, False], sampled=[3, 5]) == [1.0, 0.0]
    assert funcs[1]([None, None], completions, forced=[True, False]) == [0.0, 0.0]
    assert (budget.completions, budget.sampled_tokens, budget.forced) == (2, 8, 1)
    funcs, _ = G.reward_functions({"correct": 1.0, "consistency": 0.5}, G.Budget())
    both = funcs[1]([None] * 2, [[{"content": "[[A]]"}], [{"content": "[[B]]"}]], answer=["A", "B"], pair_id=["p", "p"],
                    order=["chosen_first", "chosen_second"])
    assert both == [1.0, 1.0]  # both pick the chosen response: consistent, though the letters differ


def test_prompts_both_orders_adjacent_and_one_order_balanced():
    pairs = make_pairs(8)
    both = S.grpo_prompts(pairs, True, seed=3, template="cot")
    assert len(both) == 16
    for a, b in zip(both[::2], both[1::2]):
        assert a.pair_id == b.pair_id and {a.order, b.order} == {"chosen_first", "chosen_second"}
        assert {a.answer, b.answer} == {"A", "B"}
    for p in both:
        pair = next(x for x in pairs if x.id == p.pair_id)
        text = p.prompt[-1]["content"]
        first = text.index(pair.chosen_text) < text.index(pair.rejected_text)
        assert (p.answer == "A") == first == (p.order == "chosen_first")
    one = S.grpo_prompts(pairs, False, seed=3)
    assert len(one) == 8 and Counter(p.answer for p in one) == {"A": 4, "B": 4}
    assert S.grpo_from_records(S.to_records(both)) == both


def test_rollout_completion_masks_the_cue_and_trains_the_letter():
    cue, close, letters = [7, 8], [9], {"A": 1, "B": 2}
    own = Completion("why [[B]]", 3, True, token_ids=(4, 5, 6))
    assert G.completion(own, own, 0, cue, close, letters) == ([4, 5, 6, 0], [1, 1, 1, 1], False)  # EOS in the loss
    cut = Completion("why", 2, False, token_ids=(4, 5))
    assert G.completion(cut, cut, 0, cue, close, letters) == ([4, 5], [1, 1], False)
    forced = Completion("why\n\nFinal verdict: [[B]]", 3, True, token_ids=(4, 5))
    assert G.completion(cut, forced, 0, cue, close, letters) == ([4, 5, 7, 8, 2, 9], [1, 1, 0, 0, 1, 0], True)
    assert G.consecutive_runs(["a", "a", "b", "b", "a"]) == [("a", 2), ("b", 2), ("a", 1)]


def test_one_iteration_end_to_end(model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from genrm.judges.base import load_judge
    from genrm.star import run_star

    train, held_out = make_pairs(6), make_pairs(3, seed=9)
    metrics = run_star(tmp_path / "run", method="grpo", model=model_dir, train_pairs=train, eval_pairs=held_out,
                       config=TINY, progress=False)
    (entry,) = metrics["iterations"]
    dataset = json.loads((tmp_path / "run/iter-1/dataset.json").read_text())
    assert entry["grpo_prompts"] == len(dataset) == 12 and not (tmp_path / "run/iter-1/samples.jsonl").exists()
    grpo = entry["grpo"]
    assert entry["train_steps"] == 3 and grpo["completions"] == 3 * 4  # 3 steps x 4 completions (2 prompts x 2)
    assert 0 < grpo["forced"] <= grpo["completions"] and grpo["sampled_tokens"] > grpo["completions"]
    logged = grpo["logged"]
    assert {"reward", "rewards/correct/mean", "rewards/consistency/mean", "rewards/format/mean", "kl"} <= set(logged)
    assert logged["kl"][1] > 0  # KL to the reference model (beta 0.04) is computed
    checkpoint = entry["checkpoint"]
    judge = load_judge(checkpoint)
    assert judge.kind == "cot" and json.loads((tmp_path / "run/iter-1/train/checkpoint/genrm_judge.json").read_text())[
        "star"]["method"] == "grpo"
    before = load_file(f"{model_dir}/model.safetensors")
    after = load_file(f"{checkpoint}/model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert entry["eval"]["held-out"]["n"] == 3


def test_config_checks():
    with pytest.raises(ConfigError, match="train.num_generations: GRPO takes it from the run's 'samples'"):
        resolve_config({"method": "grpo", "train": {"num_generations": 8}})
    with pytest.raises(ConfigError, match="train.temperature: .*'sampling.temperature'"):
        resolve_config({"method": "grpo", "train": {"temperature": 0.7}})
    with pytest.raises(ConfigError, match="at least 2"):
        resolve_config({"method": "grpo", "samples": 1})
    with pytest.raises(ConfigError, match="rewards.format must be >= 0"):
        resolve_config({"method": "grpo", "rewards": {"format": -1}})
    with pytest.raises(ConfigError, match="rewards.typo"):
        resolve_config({"method": "grpo", "rewards": {"typo": 1}})
    with pytest.raises(ConfigError, match="train: .*no_such_key"):
        resolve_config({"method": "grpo", "train": {"no_such_key": 1}})
    cfg = resolve_config({"method": "grpo"})
    assert cfg.train["beta"] == 0.04 and cfg.train["shuffle_dataset"] is False  # KL on; a pair's orders stay adjacent


def test_failed_second_iteration_resumes_without_retraining_the_first(model_dir, tmp_path, monkeypatch):
    from genrm.star import run_star

    calls = []
    real = G.train_grpo

    def flaky(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(G, "train_grpo", flaky)
    config = {**TINY, "iterations": 2, "shards": 2, "train": {**TINY["train"], "max_steps": 1}}
    with pytest.raises(RuntimeError, match="killed"):
        run_star(tmp_path / "run", method="grpo", model=model_dir, train_pairs=make_pairs(8), eval_pairs=make_pairs(2, seed=9),
                 config=config, progress=False)
    metrics = run_star(tmp_path / "run", resume=True, progress=False)
    assert [it["iteration"] for it in metrics["iterations"]] == [1, 2]
    first = str(tmp_path / "run/iter-1/train/checkpoint")
    assert calls == [model_dir, first, first]  # iteration 1 trained once; iteration 2 from its checkpoint, retried
