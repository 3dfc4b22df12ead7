"""`genrm eval` end to end on tiny models: BT, trained-GenRM card, zero-shot indicator and CoT judges."""
import json
import os
import shutil

import pytest
from test_eval_scoring import independent_scores

from genrm.cli import main

SUBSETS = {"alpacaeval-easy": 3, "alpacaeval-hard": 2, "xstest-should-respond": 2, "hep-python": 2,
           "anthropic_helpful": 2, "my-custom": 2}


@pytest.fixture(scope="module")
def bench_file(tmp_path_factory):
    rows = []
    for subset, n in SUBSETS.items():
        for i in range(n):
            rows.append({"prompt": f"What is {i}+2?", "chosen": f"The answer is {i + 2}." + " Indeed." * (i % 2),
                         "rejected": f"It is {i + 3}.", "chosen_model": "x", "rejected_model": "y",
                         "subset": subset, "id": f"{subset}-{i}"})
    path = tmp_path_factory.mktemp("bench") / "rewardbench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def bt_dir(tiny_model_dir, tmp_path_factory):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("bt")
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def genrm_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("genrm") / "ckpt"
    shutil.copytree(tiny_model_dir, out)
    (out / "genrm_judge.json").write_text(json.dumps({"kind": "genrm", "indicators": ["A", "B"], "both_orders": True}))
    return out


def check_outputs(out, kind, capsys_text):
    results = json.loads((out / "results.json").read_text())
    assert results["judge"] == kind and results["bench"] == "rewardbench"
    assert len(results["data_hash"]) == 64 and results["genrm_version"] and results["model"]
    assert "pointwise" in results["tie_policy"] and "pairwise_tie" in results["tie_policy"]
    examples = results["examples"]
    assert len(examples) == sum(SUBSETS.values())
    for ex in examples:
        assert {"id", "subset", "p_chosen", "correct"} <= set(ex)
        assert ex["correct"] in (0, 0.5, 1) and 0 <= ex["p_chosen"] <= 1
        if kind == "bt":
            assert "score_chosen" in ex and "score_rejected" in ex
        else:
            assert 0 <= ex["p_chosen_first"] <= 1 and 0 <= ex["p_chosen_second"] <= 1
    for name, s in results["subsets"].items():
        assert 0 <= s["accuracy"] <= 1 and s["n"] == SUBSETS[name]
        assert s["ci95"][0] <= s["accuracy"] <= s["ci95"][1]
        assert 0 <= s["length_baseline"] <= 1
        if kind != "bt":
            assert s["chosen_first_accuracy"] is not None and s["chosen_second_accuracy"] is not None
    # second implementation of the official formula, from the per-example results
    acc, sections, overall = independent_scores([e for e in examples if e["subset"] in
                                                 ("alpacaeval-easy", "alpacaeval-hard", "xstest-should-respond", "hep-python")])
    assert {k: results["subsets"][k]["accuracy"] for k in acc} == acc
    assert results["sections"].keys() >= {"Chat", "Safety", "Reasoning"}
    assert {k: results["sections"][k] for k in sections} == sections
    assert results["overall"] == overall
    assert all(0 <= v <= 1 for v in results["sections"].values())
    assert "Prior Sets" in results["sections"] and results["overall_legacy"] is not None
    assert list(results["other_subsets"]) == ["my-custom"] and "my-custom" not in str(results["coverage"])
    assert set(results["counts"]) >= {"ties", "unparsed"}
    report = (out / "report.md").read_text()
    assert "my-custom" in report and "length baseline" in report and "Credit policy" in report
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "alpacaeval-easy" in capsys_text and "length baseline" in capsys_text and "overall" in capsys_text
    return results


@pytest.mark.parametrize("judge", ["bt", "genrm", "zero-shot"])
def test_eval_rewardbench_cli(judge, bench_file, bt_dir, genrm_dir, tiny_model_dir, tmp_path, capsys):
    model = {"bt": bt_dir, "genrm": genrm_dir, "zero-shot": tiny_model_dir}[judge]
    out = tmp_path / "out"
    rc = main(["eval", "--bench", "rewardbench", "--model", str(model), "--data", str(bench_file), "--out", str(out),
               "--batch-size", "4", "--max-length", "512"])
    assert rc == 0
    results = check_outputs(out, "bt" if judge == "bt" else "genrm", capsys.readouterr().out)
    if judge == "genrm":  # the card's judge and the plain causal LM are the same network here
        zero = main(["eval", "--model", str(tiny_model_dir), "--judge", "genrm", "--data", str(bench_file),
                     "--out", str(tmp_path / "zero"), "--batch-size", "3"])
        assert zero == 0
        other = json.loads((tmp_path / "zero" / "results.json").read_text())
        assert [e["p_chosen"] for e in other["examples"]] == pytest.approx([e["p_chosen"] for e in results["examples"]], abs=1e-5)


def test_eval_cot_judge_library(bench_file, tiny_model_dir, tmp_path):
    pytest.importorskip("genrm.judges.cot")
    from genrm.eval.runner import evaluate, load_bench, subsample
    from genrm.judges.base import load_judge

    judge = load_judge(str(tiny_model_dir), kind="cot", votes=1, max_new_tokens=8)
    pairs = subsample(load_bench("rewardbench", str(bench_file)), 1)
    results = evaluate(judge, pairs, bench="rewardbench", out=tmp_path, batch_size=8)
    # a random tiny model writes no [[A]]/[[B]] tag: every verdict unparsed, each scored 0.5
    unparsed = [e for e in results.examples if not e["parsed"]]
    assert results.counts["unparsed"] == len(unparsed) == results.pooled.unparsed
    assert all(e["correct"] == 0.5 for e in unparsed)
    assert all("votes" in e for e in results.examples)
    assert (tmp_path / "results.json").exists()


def test_eval_offline_default_data_fails_cleanly(tiny_model_dir, capsys):
    rc = main(["eval", "--bench", "rewardbench", "--model", str(tiny_model_dir)])
    text = capsys.readouterr().out
    assert rc == 1 and "allenai/reward-bench" in text and "--data" in text and "Traceback" not in text


def test_eval_bad_file_names_row(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": "q", "chosen": "a"}\n')
    rc = main(["eval", "--bench", f"file:{bad}", "--model", str(tiny_model_dir), "--out", str(tmp_path / "o")])
    assert rc == 1 and "row 2" in capsys.readouterr().out


def test_eval_file_bench_groups_by_subset(bench_file, tiny_model_dir, tmp_path, capsys):
    rc = main(["eval", "--bench", f"file:{bench_file}", "--model", str(tiny_model_dir), "--out", str(tmp_path),
               "--per-subset", "1"])
    assert rc == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["bench"] == "file" and set(results["subsets"]) == set(SUBSETS) and results["sections"] == {}
    assert results["n"] == len(SUBSETS)
    assert results["overall"] == pytest.approx(sum(e["correct"] for e in results["examples"]) / results["n"])


@pytest.mark.parametrize("judge", ["bt", "zero-shot"])
def test_eval_rewardbench2(judge, bt_dir, tiny_model_dir, tmp_path, capsys):
    rows = [{"id": str(i), "prompt": f"Say {i}.", "chosen": [f"{i}"], "rejected": ["no", f"{i + 1}", "maybe"],
             "num_correct": 1, "num_rejected": 3, "subset": subset} for i, subset in enumerate(["Focus", "Focus", "Math"])]
    rows += [{"id": "ref:1", "prompt": "Name a colour.", "chosen": ["red"], "rejected": ["seven", "a dog"],
              "num_correct": 1, "num_rejected": 2, "subset": "Ties"},
             {"id": "tied:1", "prompt": "Name a colour.", "chosen": ["red", "blue"], "rejected": ["seven", "a dog"],
              "num_correct": 2, "num_rejected": 2, "subset": "Ties"}]
    data = tmp_path / "rb2.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = bt_dir if judge == "bt" else tiny_model_dir
    rc = main(["eval", "--bench", "rewardbench2", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "o")])
    assert rc == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(results["sections"]) == {"Focus", "Math", "Ties"}
    assert results["overall"] == pytest.approx(sum(results["sections"].values()) / 3)
    assert results["counts"]["comparisons"] == 3 * 3 + 2 + 4
    assert "components" in results["subsets"]["Ties"]
    assert "best_of_n_pairwise" in results["tie_policy"] and "ties_domain" in results["tie_policy"]
    for ex in results["examples"]:
        if ex["subset"] == "Ties":
            continue
        if judge == "bt":
            scores = [ex["chosen_scores"][0]] + ex["rejected_scores"]
            top = max(scores)
            expected = 0.0 if scores[0] < top else 1 / scores.count(top)
        else:  # the chosen response must win each of its three comparisons
            credits = [1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5 for p in ex["comparisons"]]
            expected = 0.0 if 0.0 in credits else 1 / (1 + credits.count(0.5))
            assert "chosen_first_correct" in ex and "chosen_second_correct" in ex
        assert ex["correct"] == expected
    assert "Ties" in capsys.readouterr().out


def test_eval_ultrafeedback_local_copy(bt_dir, tmp_path):
    rows = [{"prompt": f"Count to {i}.", "prompt_id": f"p{i}", "score_chosen": 8.0, "score_rejected": 3.0,
             "chosen": [{"role": "user", "content": f"Count to {i}."}, {"role": "assistant", "content": " ".join(map(str, range(1, i + 2)))}],
             "rejected": [{"role": "user", "content": f"Count to {i}."}, {"role": "assistant", "content": "no"}]}
            for i in range(3)]
    data = tmp_path / "test_prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc = main(["eval", "--bench", "ultrafeedback", "--model", str(bt_dir), "--data", str(data), "--out", str(tmp_path / "o")])
    assert rc == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["bench"] == "ultrafeedback" and list(results["subsets"]) == ["test_prefs"]
    assert [e["id"] for e in results["examples"]] == ["p0", "p1", "p2"]
    assert results["overall"] == results["subsets"]["test_prefs"]["accuracy"]


class Killed(Exception):
    pass


class DiesAfter:
    """A judge that passes calls to `inner` and dies (as a killed process would) on call `calls + 1`."""

    def __init__(self, inner, calls):
        self.inner, self.calls, self.judged = inner, calls, 0
        self.kind, self.name, self.max_length = inner.kind, inner.name, inner.max_length

    def judge(self, pairs, batch_size=8, progress=False):
        if self.calls == 0:
            raise Killed
        self.calls -= 1
        self.judged += len(pairs)
        return self.inner.judge(pairs, batch_size, progress)


def test_killed_eval_resumes_from_its_journal(bench_file, bt_dir, tmp_path):
    from genrm.data.pairs import load_pairs
    from genrm.eval.runner import evaluate
    from genrm.judges.base import load_judge

    pairs = list(load_pairs(bench_file))
    judge = load_judge(str(bt_dir))
    clean = evaluate(judge, pairs, out=tmp_path / "clean", batch_size=2, chunk=4, model=str(bt_dir))
    out = tmp_path / "killed"
    with pytest.raises(Killed):
        evaluate(DiesAfter(judge, calls=2), pairs, out=out, batch_size=2, chunk=4, model=str(bt_dir))
    assert not (out / "results.json").exists()
    assert len((out / "judgments.jsonl").read_text().splitlines()) == 1 + 8  # identity + two chunks of 4
    again = DiesAfter(judge, calls=99)
    resumed = evaluate(again, pairs, out=out, batch_size=2, chunk=4, model=str(bt_dir))
    assert again.judged == len(pairs) - 8 and resumed.resumed_judgments == 8
    for got, want in zip(resumed.examples, clean.examples):
        assert got["id"] == want["id"] and got["p_chosen"] == pytest.approx(want["p_chosen"], abs=1e-5)
    assert resumed.overall == pytest.approx(clean.overall)
    # another judge's journal is never mixed in
    with pytest.raises(ValueError, match="another run"):
        evaluate(judge, pairs, out=out, batch_size=2, model="another-model")
    weights = next(bt_dir.glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # "retrained" in place
    try:
        with pytest.raises(ValueError, match="another run"):
            evaluate(judge, pairs, out=out, batch_size=2, chunk=4, model=str(bt_dir))
    finally:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_eval_recipe_with_options_overriding(bench_file, tiny_model_dir, tmp_path, capsys):
    import yaml

    recipe = tmp_path / "eval.yaml"
    recipe.write_text(yaml.safe_dump({"bench": "file", "data": str(bench_file), "model": "no-such-model", "judge": "genrm",
                                      "per_subset": 2, "orders": "one", "batch_size": 3}))
    out = tmp_path / "out"
    assert main(["eval", "--config", str(recipe), "--model", str(tiny_model_dir), "--per-subset", "1", "--out", str(out),
                 "max_length=512"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == str(tiny_model_dir) and results["bench"] == "file" and results["n"] == len(SUBSETS)
    assert all(e["shown"] in ("chosen_first", "chosen_second") for e in results["examples"])  # orders: one, from the recipe
    assert main(["eval", "--config", str(recipe), "--out", str(out), "vote=3"]) == 1
    assert "unknown config key 'vote'" in capsys.readouterr().out


def test_eval_masterkey_attacks_every_chosen_answer_with_every_key(bench_file, bt_dir, tmp_path, capsys):
    """`--bench masterkey --data D`: each chosen answer of D against each master key, one subset per
    key; the key's win rate is 1 - accuracy there, per key, with its interval."""
    from genrm.eval.masterkey import MASTER_KEYS

    out = tmp_path / "mk"
    assert main(["eval", "--bench", "masterkey", "--model", str(bt_dir), "--data", str(bench_file), "--per-subset", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["bench"] == "masterkey" and results["n"] == len(SUBSETS) * len(MASTER_KEYS)
    assert set(results["subsets"]) == {f"masterkey:{k}" for k in MASTER_KEYS}
    texts = {e["id"].split("::")[1] for e in results["examples"]}
    assert texts == set(MASTER_KEYS)
    for name in MASTER_KEYS:
        mine = [e for e in results["examples"] if e["id"].endswith(f"::{name}")]
        assert len(mine) == len(SUBSETS)
        # BT: the key wins where its reward is at least the real answer's (an exact tie counts as a loss of the real one)
        wins = sum(e["score_rejected"] >= e["score_chosen"] for e in mine) / len(mine)
        assert results["subsets"][f"masterkey:{name}"]["accuracy"] == pytest.approx(1 - wins)
    report = (out / "report.md").read_text()
    assert "## Master keys" in report and "'Thought process:'" in report and "master keys beat the real answer" in printed
    assert main(["eval", "--bench", "masterkey", "--model", str(bt_dir), "--out", str(tmp_path / "none")]) == 1
    assert "masterkey needs a preference set: give --data PATH" in capsys.readouterr().out
