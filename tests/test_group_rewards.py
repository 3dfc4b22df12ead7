"""Group rewards from a pairwise judge (genrm.judges.tournament; genrm.policy.trl_reward group mode;
`POST /group_reward`): hand-computed values per scheme with scripted judges, ties, identical
completions, invariance to the order of the completions, TRL's num_generations groups, a 2-process
gloo launch in which one group straddles the processes (and STaR-GRPO's consistency term, one pair's two
orders on two processes), and the serve endpoint."""
from __future__ import annotations

import json
import math
import os
import random
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from genrm.judges.tournament import Comparison, _entrants, group_rewards, judge_probabilities
from genrm.policy.trl_reward import JudgeReward, group_spans
from genrm.train.grpo import consistency_terms, picked
from genrm.types import Judgment

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "q"}]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class ScoreJudge:
    """Scripted pairwise judge: p_chosen = sigmoid(score(chosen) - score(rejected)), score = the
    text's length unless given; shows both orders (position-free). Records the pairs it judged."""

    kind = "genrm"
    name = "scripted"

    def __init__(self, scores: dict[str, float] | None = None):
        self.scores, self.seen = scores or {}, []

    def value(self, text: str) -> float:
        return self.scores.get(text, len(text))

    def judge(self, pairs, batch_size=8, progress=False):
        self.seen += pairs
        out = []
        for p in pairs:
            q = sigmoid(self.value(p.chosen_text) - self.value(p.rejected_text))
            out.append(Judgment(p_chosen=q, p_chosen_first=q, p_chosen_second=q))
        return out


class FirstJudge:
    """Always prefers the response shown first, shown in both orders: every match is a tie (0.5)."""

    kind = "genrm"
    name = "first"

    def judge(self, pairs, batch_size=8, progress=False):
        return [Judgment(p_chosen=(1.0 + 0.0) / 2, p_chosen_first=1.0, p_chosen_second=0.0) for _ in pairs]


class LopsidedJudge:
    """Not antisymmetric (one display order, position-biased): p depends on which text is chosen."""

    kind = "genrm"
    name = "lopsided"

    def judge(self, pairs, batch_size=8, progress=False):
        return [Judgment(p_chosen=0.6 if len(p.chosen_text) >= len(p.rejected_text) else 0.3) for p in pairs]


def rewards(judge, texts, scheme, prompt=PROMPT, **options):
    return group_rewards(judge_probabilities(judge), [(prompt, texts)], scheme, **options)[0]


def test_round_robin_by_hand():
    # 2 completions, prior 0.1: pi_a / (pi_a + pi_b) = (p + 0.05) / 1.1, so s_a = -s_b = log((p + .05) / (1.05 - p)) / 2
    p = sigmoid(2)
    got = rewards(ScoreJudge(), ["abc", "a"], "round_robin")
    half = math.log((p + 0.05) / (1.05 - p)) / 2
    assert got.rewards == pytest.approx([half, -half], abs=1e-8)
    assert got.wins == pytest.approx([p, 1 - p]) and got.matches == [1, 1] and len(got.comparisons) == 1
    # 3 completions whose p follow a BT model exactly (scores 0, 1, 3): without a prior the fit is
    # the scores, centred: -4/3, -1/3, 5/3; 3 matches
    judge = ScoreJudge({"x": 0, "y": 1, "z": 3})
    got = rewards(judge, ["x", "y", "z"], "round_robin", prior=0.0)
    assert got.rewards == pytest.approx([-4 / 3, -1 / 3, 5 / 3], abs=1e-6)
    assert len(judge.seen) == 3 and got.matches == [2, 2, 2] and got.scheme == "round_robin"
    assert sorted(tuple(sorted((c.first, c.second))) for c in got.comparisons) == [(0, 1), (0, 2), (1, 2)]  # either order
    c = next(c for c in got.comparisons if {c.first, c.second} == {0, 2})
    assert c.p_first == pytest.approx(sigmoid(-3) if c.first == 0 else sigmoid(3))


def test_k_random_budget_and_values_by_hand():
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]  # scores = lengths 1..6
    for k, per, total in ((2, 2, 6), (3, 3, 9), (1, 2, 6)):  # k=1: the cycle (each meets 2)
        judge = ScoreJudge()
        got = rewards(judge, texts, "k_random", k=k, prior=0.0)
        assert got.matches == [per] * 6 and len(got.comparisons) == total == len(judge.seen), k
        # the p follow a BT model on a connected graph: without a prior the fit is the lengths, centred
        assert got.rewards == pytest.approx([x - 3.5 for x in range(1, 7)], abs=1e-6), k
    odd = rewards(ScoreJudge(), texts[:5] + ["ggggggg", "hhhhhhhh"], "k_random", k=3)  # m = 7 odd: k + 1 each
    assert odd.matches == [4] * 7 and len(odd.comparisons) == 14
    # k >= m - 1 is the round robin, value for value
    rr, kr = rewards(ScoreJudge(), texts[:4], "round_robin"), rewards(ScoreJudge(), texts[:4], "k_random", k=3)
    assert kr.rewards == rr.rewards and len(kr.comparisons) == 6


def test_knockout_by_hand():
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    # the seeded bracket for these texts (sha256 of seed, prompt, text), pinned
    assert [e[0]["content"] for e in _entrants(PROMPT, texts, 0).entrants] == ["bb", "a", "ccc", "dddd", "eeeee"]
    # longer wins. Round 1: bb beats a, dddd beats ccc, eeeee has a bye; round 2: dddd beats bb,
    # eeeee a bye again; final: eeeee beats dddd. Win rates: a 0/1, bb 1/2, ccc 0/1, dddd 2/3, eeeee 1/1
    got = rewards(ScoreJudge(), texts, "knockout")
    assert got.rewards == pytest.approx([0, 1 / 2, 0, 2 / 3, 1])
    assert got.matches == [1, 2, 1, 3, 1] and got.wins == [0, 1, 0, 2, 1]
    assert [(c.first, c.second, c.round) for c in got.comparisons] == [(1, 0, 1), (2, 3, 1), (1, 3, 2), (3, 4, 3)]
    assert got.comparisons[0].p_first == pytest.approx(sigmoid(1))
    # 4 completions, no byes: champion 1, final loser 1/2, first-round losers 0; 3 matches
    got = rewards(ScoreJudge(), texts[:4], "knockout")
    assert len(got.comparisons) == 3 and got.rewards == pytest.approx([0, 0.5, 0, 1])  # bracket bb-a, ccc-dddd


def test_ties_are_half_wins():
    texts = ["one", "two", "three", "four", "five"]
    for scheme, neutral in (("round_robin", 0.0), ("k_random", 0.0), ("knockout", 0.5)):
        got = rewards(FirstJudge(), texts, scheme)
        assert got.rewards == pytest.approx([neutral] * 5, abs=1e-9), scheme
    got = rewards(FirstJudge(), texts, "knockout")
    assert got.wins == [m / 2 for m in got.matches]  # half a win per match
    # a tie among two, both beaten by a third: the tied pair get equal BT strengths
    judge = ScoreJudge({"x": 0, "y": 0, "z": 2})
    rr = rewards(judge, ["x", "y", "z"], "round_robin")
    assert rr.rewards[0] == pytest.approx(rr.rewards[1]) and rr.rewards[2] > rr.rewards[0]
    assert sum(rr.rewards) == pytest.approx(0, abs=1e-9)
    # knockout tie: half a win each, the earlier in the seeded bracket goes on
    ko = rewards(ScoreJudge({"a": 0, "bb": 0}), ["a", "bb"], "knockout")
    assert ko.rewards == [0.5, 0.5] and ko.wins == [0.5, 0.5]


def test_identical_completions_are_one_entrant():
    judge = ScoreJudge()
    got = rewards(judge, ["abc", "a", "abc", "ab"], "round_robin")
    assert got.rewards[0] == got.rewards[2] and len(judge.seen) == 3  # 3 distinct: 3 matches
    assert all(c.first != 2 and c.second != 2 for c in got.comparisons)  # a copy is named by its first index
    ko = rewards(ScoreJudge(), ["same", "same", "same"], "knockout")
    assert ko.rewards == [0.5] * 3 and ko.comparisons == []  # one distinct response: neutral rewards
    assert rewards(ScoreJudge(), ["same"] * 2, "round_robin").rewards == [0.0, 0.0]
    assert rewards(ScoreJudge(), [], "round_robin").rewards == []


@pytest.mark.parametrize("scheme", ["round_robin", "k_random", "knockout"])
@pytest.mark.parametrize("judge", [ScoreJudge({"c": 1.0, "d": 1.0}), LopsidedJudge(), FirstJudge()],
                         ids=["scores", "lopsided", "ties"])
def test_rewards_do_not_depend_on_the_order_of_the_completions(scheme, judge):
    texts = ["a", "bbb", "c", "dd", "bbb", "eeeeee", "d", "ffff"]
    base = rewards(judge, texts, scheme, k=2)
    rng = random.Random(0)
    for _ in range(5):
        perm = rng.sample(range(len(texts)), len(texts))
        got = rewards(judge, [texts[i] for i in perm], scheme, k=2)
        assert got.rewards == [base.rewards[i] for i in perm]  # exactly, not approximately
        assert got.wins == [base.wins[i] for i in perm] and got.matches == [base.matches[i] for i in perm]
        assert len(got.comparisons) == len(base.comparisons)
    # another prompt or seed draws another bracket/cycle, still valid
    assert len(rewards(judge, texts, scheme, prompt=[{"role": "user", "content": "other"}], k=2).rewards) == 8


def test_bad_scheme_and_k():
    with pytest.raises(ValueError, match="unknown group scheme 'swiss'"):
        rewards(ScoreJudge(), ["a", "b"], "swiss")
    with pytest.raises(ValueError, match="k >= 1"):
        rewards(ScoreJudge(), ["a", "b"], "k_random", k=0)
    with pytest.raises(ValueError, match="k >= 1"):
        JudgeReward(ScoreJudge(), group="k_random", k=0)


# ---------------------------------------------------------------- TRL adapter


def test_trl_group_mode_needs_no_reference_and_groups_by_prompt():
    judge = ScoreJudge()
    reward = JudgeReward(judge, group="round_robin")
    assert reward.__name__ == "genrm_genrm_round_robin"
    conv = [[{"role": "user", "content": "p1"}]] * 3 + [[{"role": "user", "content": "p2"}]] * 2
    comps = [[{"role": "assistant", "content": t}] for t in ("a", "bbb", "cc", "x", "yyyy")]
    got = reward(prompts=conv, completions=comps, completion_ids=[[1]] * 5, trainer_state=None)
    want = group_rewards(judge_probabilities(ScoreJudge()), [(conv[0], ["a", "bbb", "cc"]), (conv[3], ["x", "yyyy"])])
    assert got == want[0].rewards + want[1].rewards
    assert len(judge.seen) == 3 + 1  # within groups only
    # two neighbouring groups with the same prompt: num_generations tells them apart
    prompts, texts = ["p"] * 4, ["a", "bb", "ccc", "dddd"]
    two = JudgeReward(ScoreJudge(), group="knockout", num_generations=2)(prompts=prompts, completions=texts)
    assert two == [0.0, 1.0, 0.0, 1.0]
    one = JudgeReward(ScoreJudge(), group="knockout")(prompts=prompts, completions=texts)  # one group of 4
    assert one == rewards(ScoreJudge(), texts, "knockout", prompt=[{"role": "user", "content": "p"}]).rewards
    assert sorted(one) == [0, 0, 0.5, 1] and one[3] == 1
    assert group_spans([[1], [1], [1], [2], [2]]) == [(0, 3), (3, 5)]
    with pytest.raises(ValueError, match="not a multiple of num_generations=2"):
        JudgeReward(ScoreJudge(), group="round_robin", num_generations=2)(prompts=["p"] * 3, completions=texts[:3])
    # the reference mode is unchanged, and its error now names the group mode
    with pytest.raises(ValueError, match="group="):
        JudgeReward(ScoreJudge())(prompts=["p"], completions=["a"])


WORKER = textwrap.dedent('''
    import json, math, os, sys
    from genrm.policy.trl_reward import JudgeReward
    from genrm.types import Judgment

    class ScoreJudge:
        kind, name = "genrm", "scripted"
        seen = 0
        def judge(self, pairs, batch_size=8, progress=False):
            ScoreJudge.seen += len(pairs)
            return [Judgment(p_chosen=1 / (1 + math.exp(len(p.rejected_text) - len(p.chosen_text)))) for p in pairs]

    batch = json.loads(open(sys.argv[1]).read())
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    per = len(batch["prompts"]) // size
    mine = slice(rank * per, (rank + 1) * per)  # TRL: contiguous slices in process order
    out = {"rank": rank, "size": size}
    for scheme in ("round_robin", "k_random", "knockout"):
        ScoreJudge.seen = 0
        reward = JudgeReward(ScoreJudge(), group=scheme, k=2, num_generations=batch["G"])
        out[scheme] = {"rewards": reward(prompts=batch["prompts"][mine], completions=batch["completions"][mine],
                                         completion_ids=None, trainer_state=None),
                       "judged": ScoreJudge.seen}
    # STaR-GRPO's consistency term: pair "q"'s two orders sit on two processes
    from genrm.train.grpo import Budget, reward_functions
    funcs, _ = reward_functions({"correct": 1.0, "consistency": 1.0}, Budget())
    g = batch["grpo"]
    out["consistency"] = funcs[1](prompts=g["completions"][mine], completions=g["completions"][mine],
                                  answer=g["answer"][mine], pair_id=g["pair_id"][mine], order=g["order"][mine])
    open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w").write(json.dumps(out))
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()  # else gloo's threads may abort the exit ("terminate called ...")
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_gather_a_straddling_group(tmp_path):
    # 3 prompts x G=4 = 12 completions, 6 per process: the second prompt's group is split 2 | 2
    G = 4
    prompts = [[{"role": "user", "content": f"prompt {i}"}] for i in range(3) for _ in range(G)]
    completions = [[{"role": "assistant", "content": "w" * ((5 * i + 3) % 11 + 1)}] for i in range(3 * G)]
    completions[5] = completions[6]  # a duplicate inside the straddling group, on both sides
    # GRPO completions, 6 per process: pair p on rank 0, pair q's chosen_first on 0 and chosen_second on 1
    grpo = {"completions": ["[[A]]", "[[B]]", "[[A]]", "x", "[[A]]", "[[B]]",
                            "[[B]]", "[[B]]", "[[B]]", "[[A]]", "[[B]]", "[[B]]"],
            "answer": ["A", "A", "B", "B", "A", "A", "B", "B", "A", "A", "B", "B"],
            "pair_id": ["p"] * 4 + ["q"] * 4 + ["r"] * 4,
            "order": ["chosen_first"] * 2 + ["chosen_second"] * 2 + ["chosen_first"] * 2 + ["chosen_second"] * 2
                     + ["chosen_first"] * 2 + ["chosen_second"] * 2}
    (tmp_path / "batch.json").write_text(json.dumps({"prompts": prompts, "completions": completions, "G": G,
                                                     "grpo": grpo}))
    (tmp_path / "worker.py").write_text(WORKER)
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(tmp_path / "worker.py"),
           str(tmp_path / "batch.json"), str(tmp_path)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["size"] for r in ranks] == [2, 2]
    for scheme in ("round_robin", "k_random", "knockout"):
        judge = ScoreJudge()
        single = JudgeReward(judge, group=scheme, k=2, num_generations=G)(prompts=prompts, completions=completions)
        assert ranks[0][scheme]["rewards"] + ranks[1][scheme]["rewards"] == single, scheme
        # every match judged once, shared between the two processes
        assert ranks[0][scheme]["judged"] + ranks[1][scheme]["judged"] == len(judge.seen), scheme
        assert min(r[scheme]["judged"] for r in ranks) > 0, scheme
    # GRPO consistency across the processes equals the single-process terms, pair q included
    alone = consistency_terms([picked(t, a) for t, a in zip(grpo["completions"], grpo["answer"])],
                              grpo["pair_id"], grpo["order"])
    assert ranks[0]["consistency"] + ranks[1]["consistency"] == alone
    assert alone[4:8] == [1.0, 0.0, 0.5, 0.5] and alone[3] == 0.0  # by hand; "x" has no verdict
    # the straddling group (items 4..7) is ranked as one: its rewards are those of the whole group
    whole = rewards(ScoreJudge(), [c[0]["content"] for c in completions[4:8]], "round_robin", prompt=prompts[4])
    assert ranks[0]["round_robin"]["rewards"][4:] + ranks[1]["round_robin"]["rewards"][:2] == whole.rewards
    assert ranks[0]["round_robin"]["rewards"][5] == ranks[1]["round_robin"]["rewards"][0]  # the duplicate


GRPO_WORKER = textwrap.dedent('''
    import json, math, os, sys
    import datasets
    from trl import GRPOConfig, GRPOTrainer
    from genrm.policy.trl_reward import JudgeReward
    from genrm.types import Judgment

    class ScoreJudge:
        kind, name = "genrm", "scripted"
        def judge(self, pairs, batch_size=8, progress=False):
            return [Judgment(p_chosen=1 / (1 + math.exp(len(p.rejected_text) - len(p.chosen_text)))) for p in pairs]

    calls = []

    class Recording(JudgeReward):
        def __call__(self, prompts, completions, **kwargs):
            out = super().__call__(prompts, completions, **kwargs)
            calls.append({"prompts": prompts, "completions": completions, "rewards": out})
            return out

    model, out_dir = sys.argv[1], sys.argv[2]
    ds = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": q}]}
                                     for q in ("What is 2+2?", "List three fruits.", "Say hi.")])
    args = GRPOConfig(output_dir=os.path.join(out_dir, "grpo"), per_device_train_batch_size=3, num_generations=2,
                      max_completion_length=6, max_steps=1, learning_rate=1e-3, report_to="none", save_strategy="no",
                      bf16=False, use_cpu=True, seed=0, disable_tqdm=True, temperature=1.0)
    trainer = GRPOTrainer(model=model, reward_funcs=[Recording(ScoreJudge(), group="round_robin", num_generations=2)],
                          args=args, train_dataset=ds)
    trainer.train()
    rank = trainer.accelerator.process_index
    open(os.path.join(out_dir, f"grpo{rank}.json"), "w").write(json.dumps({"size": trainer.accelerator.num_processes,
                                                                           "calls": calls}))
    import torch.distributed as dist
    dist.barrier()
    dist.destroy_process_group()
''')


def test_two_process_grpo_step_with_a_straddling_group(tmp_path, tiny_model_dir):
    # TRL itself: 2 processes x per_device_train_batch_size 3, num_generations 2 -> 3 groups of 2 over 6
    # completions, rank 0 holding [g0, g0, g1] and rank 1 [g1, g2, g2] (grpo_trainer._get_train_sampler)
    (tmp_path / "grpo_worker.py").write_text(GRPO_WORKER)
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(free_port()), str(tmp_path / "grpo_worker.py"),
           str(tiny_model_dir), str(tmp_path)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"grpo{r}.json").read_text()) for r in (0, 1)]
    assert [r["size"] for r in ranks] == [2, 2] and [len(r["calls"]) for r in ranks] == [1, 1]
    local = [r["calls"][0] for r in ranks]
    assert [len(c["prompts"]) for c in local] == [3, 3]
    assert local[0]["prompts"][2] == local[1]["prompts"][0]  # the straddling group
    prompts, completions = local[0]["prompts"] + local[1]["prompts"], local[0]["completions"] + local[1]["completions"]
    assert prompts[0::2] == prompts[1::2]  # consecutive pairs share a prompt
    single = JudgeReward(ScoreJudge(), group="round_robin", num_generations=2)(prompts=prompts, completions=completions)
    assert local[0]["rewards"] + local[1]["rewards"] == single
    # each group of 2 gets +s, -s (0, 0 for identical texts)
    assert all(single[i] == pytest.approx(-single[i + 1], abs=1e-12) for i in (0, 2, 4))


# ---------------------------------------------------------------- genrm serve


def post(url: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_serve_group_reward():
    from genrm.serving.server import JudgeServer

    server = JudgeServer(ScoreJudge(), port=0, max_wait_ms=1).start()
    try:
        url = server.url + "/group_reward"
        texts = ["a", "bbb", "cc", "bbb", "dddd"]
        for scheme, extra in (("round_robin", {}), ("k_random", {"k": 2, "seed": 3}), ("knockout", {})):
            status, body = post(url, {"prompt": "q", "completions": texts, "scheme": scheme, **extra})
            assert status == 200, body
            want = rewards(ScoreJudge(), texts, scheme, k=extra.get("k", 2), seed=extra.get("seed", 0))
            assert body["rewards"] == want.rewards and body["scheme"] == scheme and body["matches"] == want.matches
            assert [Comparison(**c) for c in body["comparisons"]] == want.comparisons
        status, body = post(url, {"prompt": [{"role": "user", "content": "q"}],
                                  "completions": [[{"role": "assistant", "content": "xy"}], "x"]})
        assert status == 200 and body["scheme"] == "round_robin" and body["rewards"][0] > 0 > body["rewards"][1]
        cases = [({"completions": ["a"]}, "prompt: missing field"),
                 ({"prompt": "q"}, "completions: missing field"),
                 ({"prompt": "q", "completions": "a"}, "completions: expected a list"),
                 ({"prompt": "q", "completions": []}, "completions: empty list"),
                 ({"prompt": "q", "completions": ["a", 3]}, "completions[1]: expected a string or a list of messages"),
                 ({"prompt": "q", "completions": ["a", [{"role": "user", "content": "b"}]]}, "completions[1][0].role"),
                 ({"prompt": "", "completions": ["a"]}, "prompt: empty"),
                 ({"prompt": "q", "completions": ["a"], "scheme": "swiss"}, "scheme: expected one of"),
                 ({"prompt": "q", "completions": ["a"], "scheme": "k_random", "k": 0}, "k: must be at least 1"),
                 ({"prompt": "q", "completions": ["a"], "k": "2"}, "k: expected an integer"),
                 ({"prompt": "q", "completions": ["a"], "seed": True}, "seed: expected an integer")]
        for body, message in cases:
            status, got = post(url, body)
            assert status == 400 and got["error"].startswith(message), (body, got)
        status, got = post(server.url + "/get_reward", {"query": ["qa"]})
        assert status == 400 and "/group_reward" in got["error"]
    finally:
        server.stop()
