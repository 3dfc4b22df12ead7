"""verl's custom reward function (genrm/policy/verl_reward.py), called exactly as verl calls it.

The callers are copied from volcengine/verl b178a3c (verl 0.8.0.dev; the same calls in verl 0.9.1):
verl/trainer/ppo/reward.py get_custom_reward_fn wraps the function so that
`custom_reward_function.reward_kwargs` are merged into every call (`_call_with_kwargs`);
verl/workers/reward_manager/naive.py (and the reward loop's naive manager) calls it per response with
keywords data_source, solution_str, ground_truth, extra_info (after adding num_turns and
rollout_reward_scores to extra_info); verl/workers/reward_manager/batch.py calls the batched form with
data_sources (a numpy object array), solution_strs, ground_truths (lists), extra_infos (a numpy object
array of dicts) and its own reward_kwargs. verl itself is not needed here."""
from __future__ import annotations

import importlib
import importlib.util
import math
import os
from functools import partial

import numpy as np
import pytest

from genrm.policy import verl_reward
from genrm.policy.verl_reward import compute_score, compute_score_batch
from genrm.types import PreferencePair

# ---- verl's callers, copied ------------------------------------------------------------------------

def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):  # verl/trainer/ppo/reward.py
    merged_kwargs = {**kwargs, **extra_kwargs}
    return raw_fn(*args, **merged_kwargs)


def load_like_verl(module_path: str, fn_name: str, reward_kwargs: dict):
    """get_custom_reward_fn + verl/utils/import_utils.py load_module: pkg:// or a file path."""
    if module_path.startswith("pkg://"):
        module = importlib.import_module(module_path[len("pkg://"):].replace("/", "."))
    else:
        spec = importlib.util.spec_from_file_location(f"custom_module_{hash(os.path.abspath(module_path))}", module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return partial(_call_with_kwargs, getattr(module, fn_name), dict(reward_kwargs))


def naive_manager(compute, rows: list[dict]) -> list[float]:
    """The scoring loop of verl/workers/reward_manager/naive.py over non-tensor rows."""
    rewards = []
    for row in rows:
        ground_truth = row["reward_model"]["ground_truth"]
        data_source = row["data_source"]
        extra_info = row.get("extra_info", {})
        extra_info["num_turns"] = row.get("__num_turns__", None)
        extra_info["rollout_reward_scores"] = row.get("reward_scores", {})
        score = compute(data_source=data_source, solution_str=row["response"], ground_truth=ground_truth,
                        extra_info=extra_info)
        rewards.append(score["score"] if isinstance(score, dict) else score)
    return rewards


def batch_manager(compute, rows: list[dict], **reward_kwargs) -> list[float]:
    """BatchRewardManager.verify of verl/workers/reward_manager/batch.py over non-tensor rows."""
    non_tensor = {"data_source": np.array([r["data_source"] for r in rows], dtype=object),
                  "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
                  "extra_info": np.array([r["extra_info"] for r in rows], dtype=object)}
    responses_str = [r["response"] for r in rows]
    ground_truths = [item.get("ground_truth", None) for item in non_tensor["reward_model"]]
    data_sources = non_tensor["data_source"]
    rollout_reward_scores = non_tensor.get("reward_scores", [{} for _ in range(len(rows))])
    extras = non_tensor.get("extra_info", [{} for _ in range(len(rows))])
    for i in range(len(rows)):
        extras[i]["rollout_reward_scores"] = rollout_reward_scores[i]
    scores = compute(data_sources=data_sources, solution_strs=responses_str, ground_truths=ground_truths,
                     extra_infos=extras, **reward_kwargs)
    return [s["score"] if isinstance(s, dict) else s for s in scores]


def rows(items) -> list[dict]:
    """verl parquet rows (gsm8k preprocessing's shape) from (question, response, ground_truth)."""
    return [{"data_source": "openai/gsm8k", "response": response, "reward_model": {"style": "model", "ground_truth": gt},
             "extra_info": {"split": "train", "index": i, "question": question}}
            for i, (question, response, gt) in enumerate(items)]


def user(text):
    return [{"role": "user", "content": text}]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


ITEMS = [("What is 2+2?", "4", "The answer is 4."), ("What is 2+2?", "It is five, I think.", "The answer is 4."),
         ("List three fruits.", "apple, banana, cherry", "pear, plum, fig"), ("List three fruits.", "", "pear, plum, fig")]


# ---- values -----------------------------------------------------------------------------------------

def test_length_judge_hand_computed_per_item_and_batched():
    per_item = load_like_verl("pkg://genrm.policy.verl_reward", "compute_score", {"judge": "length"})
    batched = load_like_verl("pkg://genrm.policy.verl_reward", "compute_score_batch", {"judge": "length"})
    want = [sigmoid(1 - 16), sigmoid(20 - 16), sigmoid(21 - 15), 0.0]  # sigmoid(len(response) - len(reference))
    assert naive_manager(per_item, rows(ITEMS)) == pytest.approx(want)
    assert batch_manager(batched, rows(ITEMS)) == pytest.approx(want)
    # no reference (ground_truth None or empty): the raw score; pointwise_reward="score" ignores the reference
    no_ref = [(q, r, None if i % 2 else "") for i, (q, r, _) in enumerate(ITEMS)]
    assert batch_manager(batched, rows(no_ref)) == [1.0, 20.0, 21.0, 0.0]
    assert batch_manager(batched, rows(ITEMS), pointwise_reward="score") == [1.0, 20.0, 21.0, 0.0]
    # the reference from extra_info instead of ground_truth (gsm8k keeps the worked answer in "answer")
    r = rows([("What is 2+2?", "4", "4")])
    r[0]["extra_info"]["answer"] = "2+2 = 4. #### 4"
    assert naive_manager(partial(compute_score, judge="length", reference_key="answer"), r) == \
        pytest.approx([sigmoid(1 - 15)])


def test_bt_judge_local_matches_the_judge_called_directly(tiny_bt_dir):
    from genrm import load_judge

    judge = load_judge(str(tiny_bt_dir))
    kwargs = {"judge": str(tiny_bt_dir), "batch_size": 3}
    per_item = naive_manager(load_like_verl("pkg://genrm.policy.verl_reward", "compute_score", kwargs), rows(ITEMS))
    batched = batch_manager(load_like_verl("pkg://genrm.policy.verl_reward", "compute_score_batch", kwargs), rows(ITEMS))
    pairs = [PreferencePair(id=str(i), prompt=user(q), chosen=[{"role": "assistant", "content": r}],
                            rejected=[{"role": "assistant", "content": gt}], subset="t", source="t")
             for i, (q, r, gt) in enumerate(ITEMS[:3])]
    want = [j.p_chosen for j in judge.judge(pairs)] + [0.0]
    assert per_item == pytest.approx(want, abs=1e-5)
    assert batched == pytest.approx(per_item, abs=1e-5)
    scores = judge.score([user(q) for q, _, _ in ITEMS], [r for _, r, _ in ITEMS])
    j = judge.judge(pairs[:1])[0]
    assert want[0] == pytest.approx(sigmoid(scores[0] - j.score_rejected), abs=1e-5)  # the margin, by hand
    raw = batch_manager(compute_score_batch, rows(ITEMS), judge=str(tiny_bt_dir), pointwise_reward="score")
    assert raw == pytest.approx(scores, abs=1e-5)
    # a message-list prompt (a multi-turn conversation) is passed on as it stands
    convo = [*user("hi"), {"role": "assistant", "content": "hello"}, *user("What is 2+2?")]
    got = compute_score(data_source="x", solution_str="4", ground_truth=None, extra_info={"prompt": np.array(convo)},
                        judge=str(tiny_bt_dir))
    assert got == pytest.approx(judge.score([convo], ["4"])[0], abs=1e-5)


def test_local_judge_is_loaded_once_per_process(monkeypatch):
    loads, real_load = [], verl_reward.load_judge

    def counting_load(path, kind=None, **options):
        loads.append((path, kind, options))
        return real_load("length")

    monkeypatch.setattr(verl_reward, "load_judge", counting_load)
    monkeypatch.setattr(verl_reward, "_judges", {})
    for _ in range(3):
        compute_score(data_source="d", solution_str="ab", ground_truth="a", extra_info={"question": "q"},
                      judge="some/judge", judge_options={"max_length": 64})
    monkeypatch.setenv("GENRM_JUDGE", "some/judge")
    compute_score_batch(["d"], ["ab"], ["a"], [{"question": "q"}], judge_options={"max_length": 64})
    assert loads == [("some/judge", None, {"max_length": 64})]


def test_pairwise_judge_local_and_served_match_the_judge(tiny_model_dir):
    from genrm import load_judge
    from genrm.serving.server import JudgeServer

    judge = load_judge(str(tiny_model_dir), template="indicator-compact")
    items = ITEMS[:3]
    pairs = [PreferencePair(id=str(i), prompt=user(q), chosen=[{"role": "assistant", "content": r}],
                            rejected=[{"role": "assistant", "content": gt}], subset="t", source="t")
             for i, (q, r, gt) in enumerate(items)]
    want = [j.p_chosen for j in judge.judge(pairs)]
    local = {"judge": str(tiny_model_dir), "judge_options": {"template": "indicator-compact"}}
    assert naive_manager(partial(compute_score, **local), rows(items)) == pytest.approx(want, abs=1e-5)
    assert batch_manager(compute_score_batch, rows(items), **local) == pytest.approx(want, abs=1e-5)
    server = JudgeServer(judge, port=0).start()
    try:
        served = batch_manager(compute_score_batch, rows(items), url=server.url)
        assert served == pytest.approx(want, abs=1e-5)
        assert naive_manager(partial(compute_score, url=server.url + "/"), rows(items)) == pytest.approx(want, abs=1e-5)
        # a pairwise judge needs a reference
        with pytest.raises(ValueError, match=r"ground_truths\[1\]: no reference answer: a pairwise judge \(genrm\)"):
            batch_manager(compute_score_batch, rows([items[0], (items[1][0], items[1][1], None)]), url=server.url)
    finally:
        server.stop()
    with pytest.raises(ValueError, match=r"ground_truth: no reference answer: a pairwise judge"):
        compute_score(data_source="d", solution_str="4", ground_truth="", extra_info={"question": "q"}, **local)


def test_served_bt_judge_matches_local(tiny_bt_dir, monkeypatch):
    from genrm import load_judge
    from genrm.serving.server import JudgeServer

    server = JudgeServer(load_judge(str(tiny_bt_dir)), port=0, batch_size=4).start()
    try:
        local = batch_manager(compute_score_batch, rows(ITEMS), judge=str(tiny_bt_dir))
        served = batch_manager(compute_score_batch, rows(ITEMS), url=server.url)
        assert served == pytest.approx(local, abs=1e-5)
        monkeypatch.setenv("GENRM_SERVE_URL", server.url)  # the environment instead of reward_kwargs
        assert naive_manager(compute_score, rows(ITEMS)) == pytest.approx(local, abs=1e-5)
        no_ref = [(q, r, None) for q, r, _ in ITEMS]  # raw scores through /score
        assert batch_manager(compute_score_batch, rows(no_ref)) == \
            pytest.approx(batch_manager(compute_score_batch, rows(no_ref), judge=str(tiny_bt_dir)), abs=1e-5)
        monkeypatch.setattr(verl_reward, "MAX_REQUEST_BYTES", 200)  # several requests, same answers
        assert batch_manager(compute_score_batch, rows(ITEMS)) == pytest.approx(local, abs=1e-5)
        with pytest.raises(ValueError, match="/score takes a prompt of one user turn"):
            compute_score(data_source="d", solution_str="4", ground_truth=None,
                          extra_info={"prompt": [*user("a"), {"role": "assistant", "content": "b"}, *user("c")]})
    finally:
        server.stop()
    with pytest.raises(ConnectionError, match=f"cannot reach genrm serve at {server.url}"):
        compute_score(data_source="d", solution_str="4", ground_truth="x", extra_info={"question": "q"},
                      url=server.url + "/gone")


def test_module_loads_from_its_file_path_as_verl_loads_it():
    fn = load_like_verl(verl_reward.__file__, "compute_score_batch", {"judge": "length"})
    assert batch_manager(fn, rows(ITEMS[:1])) == pytest.approx([sigmoid(1 - 16)])


# ---- errors -----------------------------------------------------------------------------------------

def test_bad_inputs_name_the_field(monkeypatch):
    monkeypatch.delenv("GENRM_JUDGE", raising=False)
    monkeypatch.delenv("GENRM_SERVE_URL", raising=False)
    ok = {"data_source": "d", "solution_str": "a", "ground_truth": "b", "extra_info": {"question": "q"}}
    cases = [
        ({**ok, "extra_info": {"split": "train", "index": 3}},
         (r'extra_info: no prompt: genrm\'s judge needs extra_info\["prompt"\] or extra_info\["question"\] '
          r"\(the prompt text or its messages; keys present: \['index', 'split'\]\)")),
        ({**ok, "extra_info": None}, r"extra_info: no prompt.*keys present: \[\]"),
        ({**ok, "extra_info": {"question": "q"}, "prompt_key": "problem"}, r'needs extra_info\["problem"\]'),
        ({**ok, "extra_info": {"question": "  "}}, r'extra_info\["question"\]: empty prompt'),
        ({**ok, "extra_info": {"prompt": [{"role": "user"}]}}, r'extra_info\["prompt"\]\[0\]: expected a message'),
        ({**ok, "extra_info": {"question": 3}}, r'extra_info\["question"\]: expected a string or a list of messages'),
        ({**ok, "extra_info": "q"}, "extra_info: expected a dict, got str"),
        ({**ok, "solution_str": None}, "solution_str: expected a string, got NoneType"),
        ({**ok, "ground_truth": {"answer": 4}}, "ground_truth: expected a string or a list of messages, got dict"),
        ({**ok, "reference_key": "answer"}, r'extra_info\["answer"\]: missing \(reward_kwargs reference_key'),
        ({**ok, "pointwise_reward": "margin", "ground_truth": None}, r"ground_truth: no reference answer: pointwise_reward='margin'"),
        ({**ok, "pointwise_reward": "best"}, "pointwise_reward: 'best' is not one of auto, margin, score"),
        ({**ok, "judeg": "x"}, r"unknown reward_kwargs \['judeg'\]"),
        ({**ok, "judge": "length", "url": "http://127.0.0.1:1"}, "either judge .* or url"),
    ]
    for call, message in cases:
        call = {"judge": "length", **call} if "url" not in call else call
        with pytest.raises(ValueError, match=message):
            compute_score(**call)
    with pytest.raises(ValueError, match="no judge: pass reward_kwargs judge=PATH_OR_ID or url=.*GENRM_JUDGE or GENRM_SERVE_URL"):
        compute_score(**ok)
    monkeypatch.setenv("GENRM_JUDGE", "length")
    monkeypatch.setenv("GENRM_SERVE_URL", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="both GENRM_JUDGE and GENRM_SERVE_URL are set"):
        compute_score(**ok)
    # batched: the item's index in the field name; lengths checked
    extra = np.array([{"question": "q"}, {"index": 1}], dtype=object)
    with pytest.raises(ValueError, match=r"extra_infos\[1\]: no prompt"):
        compute_score_batch(data_sources=["d", "d"], solution_strs=["a", "b"], ground_truths=["x", "y"],
                            extra_infos=extra, judge="length")
    with pytest.raises(ValueError, match=r"solution_strs\[0\]: expected a string, got int"):
        compute_score_batch(["d"], [3], ["x"], [{"question": "q"}], judge="length")
    with pytest.raises(ValueError, match="ground_truths: 1 items for 2 solution_strs"):
        compute_score_batch(["d", "d"], ["a", "b"], ["x"], [{"question": "q"}] * 2, judge="length")
    # verl's reward loop adds its own keywords when it runs a reward model: accepted and unused
    assert compute_score(**ok, judge="length", reward_router_address="h:1", reward_model_tokenizer=None) == \
        pytest.approx(sigmoid(0))
