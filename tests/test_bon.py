"""Best-of-N ranking and rejection sampling: pure math by hand, ranking with a fake judge, and the
`genrm bon` / `genrm rs` commands on the tiny model (real HF sampling, tiny BT and indicator judges)."""
import json
import math

import pytest

from genrm.data.pairs import DataError
from genrm.policy.bon import (
    Ranking,
    accept,
    acceptance_probs,
    bradley_terry_fit,
    load_prompts,
    mean_ci,
    rank,
    rejection_sample,
)
from genrm.types import Judgment

PROMPT = [{"role": "user", "content": "say something"}]


class LengthJudge:
    """Pairwise fake: prefers the longer response; p = 0.5 for equal lengths. Counts judge calls."""

    kind = "genrm"
    name = "length"

    def __init__(self):
        self.calls = 0

    def judge(self, pairs, batch_size=8, progress=False):
        self.calls += 1
        out = []
        for p in pairs:
            d = len(p.chosen_text) - len(p.rejected_text)
            out.append(Judgment(p_chosen=0.5 if d == 0 else 1 / (1 + math.exp(-d))))
        return out


# ---------------------------------------------------------------- pure math


def test_acceptance_probs_by_hand():
    assert acceptance_probs([1.0, 2.0, 3.0], beta=1.0) == pytest.approx([math.exp(-2), math.exp(-1), 1.0])
    assert acceptance_probs([0.0, -1.0], beta=0.5) == pytest.approx([1.0, math.exp(-2)])
    assert acceptance_probs([0.0, 1.0], beta=2.0, bound=3.0) == pytest.approx([math.exp(-1.5), math.exp(-1.0)])
    with pytest.raises(ValueError, match="beta"):
        acceptance_probs([1.0], beta=0)


def test_accept_with_given_uniforms():
    assert accept([0.5, 0.2, 1.0], [0.4, 0.3, 0.999]) == [True, False, True]


def test_rejection_sample_is_seeded_and_keeps_the_best():
    rewards = [0.1, 2.0, -1.0, 1.5, 0.0, 1.9]
    a = rejection_sample(rewards, beta=0.5, seed=3, key="p1")
    assert a == rejection_sample(rewards, beta=0.5, seed=3, key="p1")
    assert 1 in a.accepted and a.bound == 2.0
    assert a.acceptance_rate == len(a.accepted) / 6
    # a very large beta accepts everything, a tiny one only the maximum
    assert rejection_sample(rewards, beta=1e9).accepted == list(range(6))
    assert rejection_sample(rewards, beta=1e-6).accepted == [1]
    # over many seeds the acceptance frequency matches exp((r - M) / beta)
    counts = [0] * 6
    for s in range(2000):
        for i in rejection_sample(rewards, beta=1.0, seed=s).accepted:
            counts[i] += 1
    for c, p in zip(counts, acceptance_probs(rewards, 1.0)):
        assert c / 2000 == pytest.approx(p, abs=0.04)


def test_bradley_terry_fit_by_hand():
    s = bradley_terry_fit([[0, 0.75], [0.25, 0]], prior=0.0)
    assert s == pytest.approx([math.log(3) / 2, -math.log(3) / 2], abs=1e-6)
    # data generated exactly by strengths 4:2:1 recovers them (mean-zero logs)
    pi = [4.0, 2.0, 1.0]
    wins = [[0 if i == j else pi[i] / (pi[i] + pi[j]) for j in range(3)] for i in range(3)]
    logs = [math.log(x) for x in pi]
    expect = [x - sum(logs) / 3 for x in logs]
    assert bradley_terry_fit(wins, prior=0.0) == pytest.approx(expect, abs=1e-6)
    # a clean sweep stays finite with the prior: 1 + 0.05 vs 0 + 0.05 virtual wins -> log 21 apart
    s = bradley_terry_fit([[0, 1.0], [0.0, 0]], prior=0.1)
    assert s[0] - s[1] == pytest.approx(math.log(21), abs=1e-6)


def test_mean_ci():
    stat = mean_ci([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["n"] == 3
    assert stat["ci95"] == pytest.approx([2 - 1.96 / math.sqrt(3), 2 + 1.96 / math.sqrt(3)])
    assert mean_ci([])["mean"] is None


# ---------------------------------------------------------------- ranking


def test_knockout_uses_n_minus_1_comparisons_batched_by_round():
    judge = LengthJudge()
    cands = [["aaa", "aaaaaaa", "a", "aaaaa", "aaaaaaaaa"], ["bb", "b"]]
    r = rank(judge, [PROMPT, PROMPT], cands, method="knockout")
    assert [x.winner for x in r] == [4, 0]
    assert [x.comparisons for x in r] == [4, 1]
    assert r[0].wins == [0, 2, 0, 1, 1]
    assert r[0].order() == [4, 1, 3, 0, 2]
    assert judge.calls == 3  # three rounds for five candidates, both prompts in every call


def test_knockout_tie_goes_to_the_earlier_candidate():
    assert rank(LengthJudge(), [PROMPT], [["xy", "ab"]], method="knockout")[0].winner == 0


def test_round_robin_fit_orders_by_preference():
    judge = LengthJudge()
    r = rank(judge, [PROMPT], [["aaa", "aaaaaaa", "a", "aaaaa", "aaaaaaaaa"]], method="round_robin")[0]
    assert r.method == "round_robin" and r.comparisons == 10 and judge.calls == 1
    assert r.order() == [4, 1, 3, 0, 2]
    assert sum(r.scores) == pytest.approx(0.0, abs=1e-9)
    assert sum(r.wins) == pytest.approx(10.0)


def test_round_robin_draws_every_vote_of_an_adaptive_judge():
    """Round robin fits p_chosen itself: a judge that stops voting early is asked for its exact form."""
    class Adaptive(LengthJudge):
        def without_early_stop(self):
            exact = LengthJudge()
            exact.exact = True
            self.exact_used = exact
            return exact

    judge = Adaptive()
    rank(judge, [PROMPT], [["a", "aaa", "aa"]], method="round_robin")
    assert judge.calls == 0 and judge.exact_used.calls == 1
    rank(judge, [PROMPT], [["a", "aaa"]], method="knockout")  # knockout reads verdicts only
    assert judge.calls == 1


def test_auto_and_invalid_methods():
    with pytest.raises(ValueError, match="needs a pointwise judge"):
        rank(LengthJudge(), [PROMPT], [["a", "b"]], method="score")
    with pytest.raises(ValueError, match="unknown ranking"):
        rank(LengthJudge(), [PROMPT], [["a", "b"]], method="best")
    assert rank(LengthJudge(), [PROMPT], [["a", "bb"]])[0].method == "knockout"
    assert Ranking("score", [1.0, 3.0, 2.0], [], 1, 0).order() == [1, 2, 0]


def test_pointwise_judges_rank_by_their_own_score():
    """A pointwise judge (here the length baseline) is asked for `score`, never fed pairs."""
    from genrm.judges.length import LengthJudge as Length

    class Scores(Length):
        def judge(self, pairs, batch_size=8, progress=False):
            raise AssertionError("pointwise ranking must not build pairs")

    r = rank(Scores(), [PROMPT, PROMPT], [["aaa", "a", "aaaaa"], ["bb", "b"]])
    assert [x.method for x in r] == ["score", "score"] and [x.winner for x in r] == [2, 0]
    assert r[0].scores == [3.0, 1.0, 5.0]


# ---------------------------------------------------------------- prompts file


def test_load_prompts_strings_messages_and_located_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "hi", "chosen": "x", "rejected": "y"}) + "\n\n"
                    + json.dumps({"id": "b", "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]}) + "\n")
    rows = load_prompts(path)
    assert [r.id for r in rows] == ["p-1", "b"] and rows[0].messages == [{"role": "user", "content": "hi"}]
    assert len(load_prompts(path, limit=1)) == 1
    bad = [({"text": "hi"}, "field 'prompt'", "missing"), ({"prompt": ""}, "field 'prompt'", "empty"),
           ({"prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}, "field 'prompt'", "assistant"),
           ({"prompt": [{"role": "robot", "content": "q"}]}, "prompt[0].role", "unknown message role")]
    for row, field, words in bad:
        path.write_text(json.dumps({"prompt": "ok"}) + "\n" + json.dumps(row) + "\n")
        with pytest.raises(DataError, match="row 2") as err:
            load_prompts(path)
        assert field in str(err.value) and words in str(err.value)
    path.write_text('{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(DataError, match="row 2: malformed JSON"):
        load_prompts(path)


# ---------------------------------------------------------------- commands on the tiny model



@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    qs = ["What is 2+2?", "List three fruits.", "Say hello.", "Name a colour."]
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": q}) + "\n" for i, q in enumerate(qs)))
    return path


def _cli(*argv):
    from genrm.cli import main

    return main([str(a) for a in argv])


def test_bon_command_with_bt_judge(tiny_model_dir, tiny_bt_dir, prompts_file, tmp_path):
    out = tmp_path / "bon.jsonl"
    args = ["bon", "--policy", tiny_model_dir, "--judge", tiny_bt_dir, "--prompts", prompts_file, "--n", 3,
            "--out", out, "sampling.max_new_tokens=6", "chunk_size=3"]
    assert _cli(*args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q0", "q1", "q2", "q3"]
    for r in rows:
        scores = [c["score"] for c in r["candidates"]]
        assert len(scores) == 3 and r["ranking"] == "score"
        assert r["winner"]["index"] == max(range(3), key=lambda i: scores[i])
        assert r["winner"]["text"] == r["candidates"][r["winner"]["index"]]["text"]
    summary = json.loads((tmp_path / "bon.summary.json").read_text())
    assert summary["winner_score"]["n"] == 4 and summary["winner_score"]["mean"] >= summary["candidate_score"]["mean"]
    # --resume keeps finished rows and does nothing more; a fresh run with the same seed is identical
    first = out.read_text()
    assert _cli(*args, "--resume") == 0 and out.read_text() == first
    assert _cli(*args) == 0 and out.read_text() == first


def test_bon_command_pairwise_round_robin_and_bad_option(tiny_model_dir, prompts_file, tmp_path, capsys):
    out = tmp_path / "rr.jsonl"
    assert _cli("bon", "--policy", tiny_model_dir, "--judge", tiny_model_dir, "--prompts", prompts_file, "--n", 3,
                "--out", out, "sampling.max_new_tokens=4", "ranking=round_robin", "limit=2") == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(r["ranking"] == "round_robin" and r["comparisons"] == 3 for r in rows)
    assert all("wins" in c for c in rows[0]["candidates"])
    assert _cli("bon", "--policy", tiny_model_dir, "--judge", tiny_model_dir, "--prompts", prompts_file, "--n", 2,
                "--out", out, "rankng=knockout") == 1
    assert "did you mean ranking" in capsys.readouterr().out
    assert _cli("bon", "--policy", tiny_model_dir, "--judge", tiny_model_dir, "--prompts", prompts_file, "--n", 2,
                "--out", out, "max_new_tokens=4") == 1
    assert "did you mean sampling.max_new_tokens, eval.max_new_tokens" in capsys.readouterr().out


def test_rs_command(tiny_model_dir, tiny_bt_dir, prompts_file, tmp_path):
    out = tmp_path / "rs.jsonl"
    args = ["rs", "--policy", tiny_model_dir, "--judge", tiny_bt_dir, "--prompts", prompts_file, "--n", 4,
            "--out", out, "sampling.max_new_tokens=5", "beta=0.05", "seed=7"]
    assert _cli(*args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for r in rows:
        scores = [c["score"] for c in r["candidates"]]
        assert r["rs"]["bound"] == max(scores)
        assert r["rs"]["probs"] == pytest.approx(acceptance_probs(scores, 0.05))
        assert scores.index(max(scores)) in r["rs"]["accepted"]
        assert r["accepted"] == [r["candidates"][i]["text"] for i in r["rs"]["accepted"]]
    summary = json.loads((tmp_path / "rs.summary.json").read_text())
    assert summary["candidates"] == 16
    assert summary["acceptance_rate"] == pytest.approx(sum(len(r["rs"]["accepted"]) for r in rows) / 16)
    first = out.read_text()
    assert _cli(*args) == 0 and out.read_text() == first  # seeded
    assert _cli(*args[:-3], "ranking=knockout") == 1


def test_bon_recipe_with_options_overriding(tiny_model_dir, tiny_bt_dir, prompts_file, tmp_path, capsys):
    import yaml

    recipe = tmp_path / "bon.yaml"
    recipe.write_text(yaml.safe_dump({"policy": str(tiny_model_dir), "judge": "no-such-judge", "prompts": str(prompts_file),
                                      "n": 2, "limit": 2, "sampling": {"max_new_tokens": 4}}))
    out = tmp_path / "bon.jsonl"
    assert _cli("bon", "--config", recipe, "--judge", tiny_bt_dir, "--n", 3, "--out", out) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["candidates"]) == 3 and r["ranking"] == "score" for r in rows)
    summary = json.loads((tmp_path / "bon.summary.json").read_text())
    assert summary["judge"] == str(tiny_bt_dir) and summary["options"]["sampling"]["max_new_tokens"] == 4
    recipe.write_text(yaml.safe_dump({"policy": str(tiny_model_dir), "prompts": str(prompts_file)}))
    assert _cli("bon", "--config", recipe, "--out", out) == 1
    assert "bon needs 'judge'" in capsys.readouterr().out


def test_sampling_config_reaches_the_backend(monkeypatch):
    """hf gets its batch size; vllm its tensor parallel size and memory share, never a batch size."""
    from genrm.config import SamplingConfig
    from genrm.generation import base

    seen = []
    monkeypatch.setattr(base, "load_generator", lambda model, backend, **options: seen.append((backend, options)))
    base.sampling_generator("m", SamplingConfig(batch_size=3))
    base.sampling_generator("m", SamplingConfig(backend="vllm", tensor_parallel_size=8, gpu_memory_utilization=0.5,
                                                dtype="bfloat16"))
    assert seen == [("hf", {"dtype": "auto", "batch_size": 3}),
                    ("vllm", {"dtype": "bfloat16", "tensor_parallel_size": 8, "gpu_memory_utilization": 0.5})]
