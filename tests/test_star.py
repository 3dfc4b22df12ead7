"""STaR loops end to end on the tiny verdict model: each method for one iteration, config and
recipe validation, and a real `genrm star` subprocess killed with SIGKILL and resumed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from test_cot import build_verdict_model, make_pairs

from genrm.config import ConfigError
from genrm.judges.prompts import parse_verdict

RECIPES = Path(__file__).parent.parent / "recipes"
TINY = {"iterations": 1, "shards": 1, "samples": 2, "eval_baseline": False,
        "sampling": {"max_new_tokens": 12, "batch_size": 4}, "eval": {"votes": 2, "max_new_tokens": 12, "batch_size": 4},
        "train": {"max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-2, "warmup_steps": 0,
                  "disable_tqdm": True}}


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, tmp_path_factory):
    return str(build_verdict_model(tiny_model_dir, tmp_path_factory.mktemp("star-verdict")))


def keys(rows):
    return Counter((r["pair_id"], r["order"], r["index"]) for r in rows)


@pytest.mark.parametrize("method", ["sft", "rationalize", "dpo"])
def test_one_iteration_end_to_end(method, model_dir, tmp_path):
    from genrm.judges.base import load_judge
    from genrm.runs import read_jsonl
    from genrm.star import run_star

    train, held_out = make_pairs(6), make_pairs(3, seed=9)
    # the bigram verdict model cannot read the prompt: on a position-balanced DPO set the gradients of
    # "prefer A" and "prefer B" cancel exactly, so DPO here trains unbalanced (balancing: sft, rationalize)
    config = {**TINY, "balance": "none" if method == "dpo" else "position", "seed": 1, **({"hint_samples": 3} if method == "rationalize" else {})}
    metrics = run_star(tmp_path / "run", method=method, model=model_dir, train_pairs=train, eval_pairs=held_out,
                       config=config, progress=False)
    (entry,) = metrics["iterations"]
    rows = read_jsonl(tmp_path / "run/iter-1/samples.jsonl")
    assert keys(rows) == Counter({(p.id, o, j): 1 for p in train for o in ("chosen_first", "chosen_second") for j in range(2)})
    assert entry["samples"] == 24 and 0 < entry["correct_rate"] < 1 and entry["unparsed_rate"] > 0
    dataset = json.loads((tmp_path / "run/iter-1/dataset.json").read_text())
    correct = {(r["pair_id"], r["order"], r["text"].strip()) for r in rows if r["correct"]}
    positions = entry["positions"]
    if method != "dpo":
        letters = Counter(parse_verdict(d["completion"]).position for d in dataset)
        assert letters["first"] == letters["second"] > 0  # balanced by position: the model says "A" 4 times in 5
        assert positions["after"] == {"chosen_first": letters["first"], "chosen_second": letters["second"]}
    if method == "sft":  # correct rationales follow the model's bias before balancing
        assert positions["before"]["chosen_first"] > positions["before"]["chosen_second"]
    if method == "dpo":
        assert positions["after"] == positions["before"]  # balance: none
        assert entry["dpo_pairs"] == len(dataset) > 0
        for d in dataset:  # rejected = a rationale ending in the wrong verdict, never one without a verdict
            good, bad = parse_verdict(d["chosen"]), parse_verdict(d["rejected"])
            assert good.parsed and bad.parsed and good.position != bad.position
        assert entry["rejected_used"]["unparsed"] == 0 and entry["rejected_used"]["wrong_verdict"] >= len(dataset)
    else:
        assert entry["kept_examples"] == len(dataset) > 0
        assert all(d["eos"] and "[[" in d["completion"] for d in dataset)
        assert all("For reference" not in d["prompt"][-1]["content"] for d in dataset)  # hint-free prompts
        if method == "sft":
            assert sum(positions["before"].values()) == len(correct)  # deduplicated correct rationales
        else:
            assert entry["unsolved_prompts"] > 0 and entry["rationalized"] > 0
            assert sum(positions["before"].values()) == len(correct) + entry["rationalized"]
    assert entry["train_steps"] == 2 and entry["train_loss"][1] < entry["train_loss"][0]
    acc = entry["eval"]["held-out"]
    assert acc["n"] == 3 and 0 <= acc["ci95"][0] <= acc["accuracy"] <= acc["ci95"][1] <= 1
    assert (tmp_path / "run/accuracy.png").stat().st_size > 1000
    judge = load_judge(entry["checkpoint"], votes=1)  # the checkpoint's card makes it a CoT judge
    assert judge.kind == "cot" and len(judge.judge(held_out[:1])) == 1


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_pair_balance_trains_both_orders_of_a_pair_together(method, model_dir, tmp_path):
    from genrm.star import run_star

    config = {**TINY, "balance": "pair", "samples": 4, "seed": 1, "loss_on": "verdict"}
    metrics = run_star(tmp_path / "run", method=method, model=model_dir, train_pairs=make_pairs(6),
                       eval_pairs=make_pairs(2, seed=9), config=config, progress=False)
    (entry,) = metrics["iterations"]
    dataset = json.loads((tmp_path / "run/iter-1/dataset.json").read_text())
    units = entry["positions"]["units"]
    assert units > 0 and len(dataset) == 2 * units == entry["kept_examples" if method == "sft" else "dpo_pairs"]
    for first, second in zip(dataset[::2], dataset[1::2]):  # one pair, chosen shown first then second
        a, b = first["prompt"][-1]["content"], second["prompt"][-1]["content"]
        assert a != b and sorted(a) == sorted(b)  # the same text, the responses swapped
        if method == "sft":  # loss on the verdict alone: the rationale is read, the letter trained
            assert (first["completion"], second["completion"]) == ("A]]", "B]]")
            assert first["prefix"].endswith("[[") and second["prefix"].endswith("[[")
        else:  # the verdicts compared, each read after its own rationale
            assert (first["chosen"], first["rejected"], second["chosen"], second["rejected"]) == ("A", "B", "B", "A")
            assert first["chosen_prefix"].endswith("[[") and first["rejected_prefix"].endswith("[[")
            assert first["chosen_suffix"] == first["rejected_suffix"] == "]]"
    card = json.loads(Path(entry["checkpoint"], "genrm_judge.json").read_text())
    assert card["star"]["balance"] == "pair" and entry["train_steps"] == 2


def test_config_rejects_unknown_keys():
    from genrm.star.config import resolve_config

    assert resolve_config({"method": "sft"}).train["learning_rate"] == 1e-6
    for bad, word in [({"iteration": 2}, "iterations"), ({"sampling": {"temprature": 1}}, "sampling.temperature"),
                      ({"train": {"learning_rat": 1}}, "learning_rate"), ({"method": "ppo"}, "method"),
                      ({"method": "sft", "train": {"beta": 1.0}}, "beta"),
                      ({"max_new_tokens": 16}, "did you mean sampling.max_new_tokens, eval.max_new_tokens"),
                      ({"samples": "4"}, "'samples' must be int"), ({"dpo_rejects": "all"}, "dpo_rejects"),
                      ({"method": "dpo", "restart_from_base": True}, "restart_from_base applies to sft"),
                      ({"balance_positions": True}, "balance"), ({"balance": "letters"}, "balance must be one of"),
                      ({"balance": "pair", "both_orders": False}, "needs both orders"),
                      ({"loss_on": "all"}, "loss_on must be one of")]:
        with pytest.raises(ConfigError, match=word):
            resolve_config(bad)


def test_every_recipe_loads_and_validates():
    from genrm.star.config import resolve_config

    files = sorted(RECIPES.rglob("*.yaml"))
    assert any(f.name.startswith("star-") for f in files)
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and ("genrm " in first or "accelerate launch" in first), path
        config = yaml.safe_load(path.read_text())
        if path.name.startswith("star-"):
            resolve_config(config)
            with pytest.raises(ConfigError):
                resolve_config({**config, "not_a_key": 1})
        elif path.parent.name == "accelerate":  # accelerate's own config class rejects unknown keys
            from accelerate.commands.config.config_args import ClusterConfig

            ClusterConfig(**config)
            with pytest.raises(TypeError):
                ClusterConfig(**config, not_a_key=1)


def _write_pairs(path: Path, pairs) -> None:
    path.write_text("".join(json.dumps({"id": p.id, "prompt": p.prompt[0]["content"], "chosen": p.chosen_text,
                                        "rejected": p.rejected_text}) + "\n" for p in pairs))


def _star(*args) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "genrm", "star", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"genrm star ended before the kill point: {proc.stderr.read().decode()[-2000:]}"
        assert time.time() < deadline, "kill point not reached"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def test_sigkill_and_resume(model_dir, tmp_path):
    from genrm.runs import read_jsonl

    train, held_out = make_pairs(8), make_pairs(2, seed=9)
    _write_pairs(tmp_path / "train.jsonl", train)
    _write_pairs(tmp_path / "eval.jsonl", held_out)
    config = {**TINY, "sampling": {"max_new_tokens": 12, "batch_size": 1},
              "eval": {"votes": 1, "max_new_tokens": 12, "batch_size": 1}, "train": {**TINY["train"], "max_steps": 3}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    samples, ledger = run / "iter-1/samples.jsonl", run / "ledger.json"

    def done():
        return json.loads(ledger.read_text()) if ledger.exists() else {}

    # 1. killed while sampling: some samples are on disk, the step is not finished
    proc = _star("--method", "sft", "--model", model_dir, "--data", str(tmp_path / "train.jsonl"),
                 "--eval-data", str(tmp_path / "eval.jsonl"), "--out", str(run), "--config", str(tmp_path / "tiny.yaml"))
    _kill_when(proc, lambda: samples.exists() and samples.read_bytes().count(b"\n") >= 2)
    assert "iter-1/sample" not in done()
    before = samples.read_bytes()
    prepared = done()["prepare"]

    # 2. resumed, then killed while training: sampling finished, the dataset is built
    proc = _star("--resume", str(run))
    _kill_when(proc, lambda: "iter-1/dataset" in done())
    assert "iter-1/train" not in done() and done()["prepare"] == prepared
    sampled = samples.read_bytes()
    kept = before[: before.rfind(b"\n") + 1]
    assert sampled.startswith(kept)  # rows written before the kill were kept, not redone
    sample_info = done()["iter-1/sample"]

    # 3. resumed to the end
    proc = _star("--resume", str(run))
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()[-3000:]
    assert samples.read_bytes() == sampled and done()["iter-1/sample"] == sample_info  # not redone
    rows = read_jsonl(samples)
    expected = {(p.id, o, j) for p in train for o in ("chosen_first", "chosen_second") for j in range(2)}
    assert keys(rows) == Counter(dict.fromkeys(expected, 1))  # no duplicate, none missing
    from genrm.data.pairs import load_pairs

    judged = [r["key"] for r in read_jsonl(run / "iter-1/eval/held-out/judgments.jsonl")[1:]]
    assert sorted(judged) == sorted(p.key for p in load_pairs(tmp_path / "eval.jsonl"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["iterations"]) == 1 and metrics["iterations"][0]["samples"] == len(expected)


def test_sample_returns_only_the_requested_rows(tmp_path):
    from test_cot import ScriptedGenerator

    from genrm.generation.base import SamplingParams
    from genrm.star.samples import plan, sample

    pairs = make_pairs(2)
    path = tmp_path / "samples.jsonl"
    foreign = {"pair_id": "elsewhere", "order": "chosen_first", "index": 0, "text": "[[A]]", "verdict": "A",
               "correct": True, "num_tokens": 1, "finished": True}
    path.write_text(json.dumps(foreign) + "\n")
    gen = ScriptedGenerator(["[[A]]", "[[B]]"])
    rows = sample(gen, plan(pairs, both_orders=True), 2, SamplingParams(n=1, max_new_tokens=4), path)
    assert sorted((r["pair_id"], r["order"], r["index"]) for r in rows) == sorted(
        (p.id, o, j) for p in pairs for o in ("chosen_first", "chosen_second") for j in range(2))
    assert len(path.read_text().splitlines()) == 1 + 8  # the foreign row stays on disk
    again = sample(gen, [(pairs[0], "chosen_first")], 1, SamplingParams(n=1, max_new_tokens=4), path)
    assert [(r["pair_id"], r["index"]) for r in again] == [(pairs[0].id, 0)] and len(gen.calls) == 1  # nothing redrawn


def test_balance_keeps_as_many_of_each_order():
    from genrm.star.samples import balance

    examples = [(f"p{i}", "chosen_first", f"a{i}") for i in range(5)] + [(f"p{i}", "chosen_second", f"b{i}") for i in range(2)]
    kept, report = balance(examples, "position", seed=1)
    assert report == {"before": {"chosen_first": 5, "chosen_second": 2}, "after": {"chosen_first": 2, "chosen_second": 2}}
    assert sum(x.startswith("a") for x in kept) == 2 and [x for x in kept if x.startswith("b")] == ["b0", "b1"]
    assert kept == balance(examples, "position", seed=1)[0] and balance(examples[:5], "position", seed=1)[0] == []
    assert balance(examples, "none")[0] == [ex for _, _, ex in examples]
    with pytest.raises(ValueError, match="balance must be one of"):
        balance(examples, "letters")


def test_pair_balance_keeps_pairs_solved_in_both_orders_as_units():
    from genrm.star.samples import balance

    examples = [("p0", "chosen_first", "a0"), ("p1", "chosen_first", "a1"), ("p0", "chosen_second", "b0"),
                ("p0", "chosen_first", "a0'"), ("p2", "chosen_second", "b2"), ("p0", "chosen_second", "b0'"),
                ("p0", "chosen_second", "b0''"), ("p3", "chosen_second", "b3"), ("p3", "chosen_first", "a3")]
    kept, report = balance(examples, "pair")
    # p1 and p2 are solved in one order only; p0 gives two units (its third "B" has no partner)
    assert kept == ["a0", "b0", "a0'", "b0'", "a3", "b3"]
    assert report == {"before": {"chosen_first": 4, "chosen_second": 5}, "after": {"chosen_first": 3, "chosen_second": 3},
                      "units": 3}


def test_verdict_only_examples_read_the_rationale_and_train_the_verdict(tiny_model_dir):
    from genrm.judges.prompts import split_at_verdict
    from genrm.models import load_tokenizer
    from genrm.star.samples import sft_example
    from genrm.train.sft import tokenize

    assert split_at_verdict("says [[B]] but [[ A ]] then") == ("says [[B]] but [[ ", "A ]] then")
    with pytest.raises(ValueError, match="no verdict tag"):
        split_at_verdict("no verdict here")
    prompt = [{"role": "user", "content": "which?"}]
    whole, verdict = sft_example(prompt, "short reason\n\nFinal verdict: [[A]]"), \
        sft_example(prompt, "short reason\n\nFinal verdict: [[A]]", "verdict")
    assert (whole.prefix, verdict.prefix, verdict.completion) == ("", "short reason\n\nFinal verdict: [[", "A]]")
    tok = load_tokenizer(tiny_model_dir, side="right")
    (a, b), _ = tokenize(tok, [whole, verdict])
    trained = [x for x in b["labels"] if x != -100]
    assert len(b["input_ids"]) >= len(a["input_ids"]) - 1 and len(trained) < len([x for x in a["labels"] if x != -100])
    assert tok.decode(trained[:-1]) == "A]]" and trained[-1] == tok.eos_token_id  # the letter, the tag's end, EOS
    assert tok.decode(b["input_ids"][:len(b["input_ids"]) - len(trained)]).endswith("short reason\n\nFinal verdict: [[")
    with pytest.raises(ValueError, match="loss_on must be one of"):
        sft_example(prompt, "[[A]]", "rationale")


def test_verdict_only_dpo_compares_the_verdict_letters(tiny_model_dir):
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from genrm.models import load_tokenizer
    from genrm.star.samples import dpo_example
    from genrm.train.dpo import _compared_spans, tokenize

    prompt = [{"role": "user", "content": "which?"}]
    good, bad = "it says hi\n\nFinal verdict: [[A]]", "no words at all\n\nFinal verdict: [[B]]"
    whole, verdict = dpo_example(prompt, good, bad), dpo_example(prompt, good, bad, "verdict")
    assert (verdict.chosen, verdict.rejected, verdict.chosen_prefix, verdict.chosen_suffix) == \
        ("A", "B", "it says hi\n\nFinal verdict: [[", "]]")
    assert dpo_example(prompt, good, "no tag", "verdict") == dpo_example(prompt, good, "no tag")  # nothing to split
    tok = load_tokenizer(tiny_model_dir, side="left")
    a, b = tokenize(tok, [whole, verdict])
    assert a["chosen_ids"] == b["chosen_ids"] and "chosen_span" not in a  # the same tokens are read
    collate = _compared_spans(DataCollatorForPreference(pad_token_id=tok.pad_token_id))
    batch = collate([b])
    mask, ids = batch["completion_mask"], batch["input_ids"]
    for row, text, letter in ((0, verdict.chosen_prefix, "A"), (1, verdict.rejected_prefix, "B")):
        on = mask[row].nonzero().flatten().tolist()  # the compared tokens: the letter, not "]]" nor the end of turn
        assert on and on == list(range(on[0], on[-1] + 1))
        assert tok.decode(ids[row, :on[0]]).endswith(text) and tok.decode(ids[row, on[0]:on[-1] + 1]).strip() == letter
        assert tok.decode(ids[row, on[-1] + 1:]).startswith("]]")
    assert collate([a])["completion_mask"].sum() > mask.sum()  # whole completions: every completion token compared


