"""RAFT on the tiny model: sample -> rank (tiny BT judge) -> SFT on the top-k -> repeat, with resume."""
import json

import pytest

from genrm.policy.bon import PromptRow
from genrm.policy.raft import iteration_prompts, sample_metrics, top_k_examples


def _record(pid, scores, texts=None):
    texts = texts or [f"t{i}" for i in range(len(scores))]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return {"id": pid, "prompt": [{"role": "user", "content": pid}], "ranking": "score", "order": order,
            "candidates": [{"text": t, "score": s, "num_tokens": 1, "finished": True} for t, s in zip(texts, scores)],
            "winner": {"index": order[0], "text": texts[order[0]], "score": scores[order[0]]}}


def test_top_k_and_metrics_by_hand():
    records = [_record("a", [1.0, 3.0, 2.0]), _record("b", [0.0, -1.0, 5.0], texts=["x", "y", "  "])]
    kept = top_k_examples(records, 2)
    assert [(k["id"], k["completion"]) for k in kept] == [("a", "t1"), ("a", "t2"), ("b", "x"), ("b", "y")]  # empty skipped
    m = sample_metrics(records, 2)
    assert m["mean_score"]["mean"] == pytest.approx((2.0 + 4 / 3) / 2)
    assert m["top_k_score"]["mean"] == pytest.approx((2.5 + -0.5) / 2)
    assert m["best_score"]["mean"] == pytest.approx(4.0)
    assert m["prompts"] == 2 and m["samples"] == 6


def test_iteration_prompts_cycle():
    rows = [PromptRow(id=str(i), messages=[]) for i in range(5)]
    assert iteration_prompts(rows, None, 3) == rows
    assert [r.id for r in iteration_prompts(rows, 2, 0)] == ["0", "1"]
    assert [r.id for r in iteration_prompts(rows, 2, 2)] == ["4", "0"]


def test_bad_train_key_fails_before_sampling(tmp_path):
    from genrm.cli import main

    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    assert main(["raft", "--judge", "j", "--prompts", str(prompts), "--out", str(tmp_path / "r"),
                 "train.learning_rat=1e-5"]) == 1
    assert main(["raft", "--judge", "j", "--prompts", str(prompts), "--out", str(tmp_path / "r2"), "top_k=9"]) == 1


def _args(tiny_model_dir, tiny_bt_dir, prompts, out):
    return ["raft", "--policy", str(tiny_model_dir), "--judge", str(tiny_bt_dir), "--prompts", str(prompts),
            "--out", str(out), "iterations=2", "n=3", "top_k=1", "sampling.max_new_tokens=6", "chunk_size=2",
            "train.learning_rate=1e-2", "train.per_device_train_batch_size=2", "train.disable_tqdm=true"]


def test_raft_command_runs_and_resumes(tiny_model_dir, tiny_bt_dir, tmp_path, monkeypatch):
    from genrm.cli import main
    from genrm.train import sft

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": q}) + "\n"
                               for i, q in enumerate(["What is 2+2?", "Say hello.", "List three fruits."])))
    out = tmp_path / "run"
    real = sft.train_sft
    calls = []

    def crash_in_second_iteration(model, examples, out_dir, config=None, card=None):
        calls.append(card["iteration"])
        if card["iteration"] == "iter-1" and calls.count("iter-1") == 1:
            raise KeyboardInterrupt("killed")
        return real(model, examples, out_dir, config, card)

    monkeypatch.setattr(sft, "train_sft", crash_in_second_iteration)
    args = _args(tiny_model_dir, tiny_bt_dir, prompts, out)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    samples0 = (out / "iter-0" / "samples.jsonl").read_text()
    ledger = json.loads((out / "ledger.json").read_text())
    assert "iter-0/train" in ledger and "iter-1/samples" in ledger and "iter-1/train" not in ledger

    assert main(args) == 0  # resumes: only iter-1 training and the final sampling are left
    assert calls == ["iter-0", "iter-1", "iter-1"]
    assert (out / "iter-0" / "samples.jsonl").read_text() == samples0

    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["iteration"] for m in metrics["iterations"]] == [0, 1] and "final" in metrics
    for m in metrics["iterations"]:
        assert m["prompts"] == 3 and m["samples"] == 9
        assert m["top_k_score"]["mean"] >= m["mean_score"]["mean"]
        assert m["train"]["examples"] >= 1 and m["train"]["last_loss"] is not None
    assert metrics["iterations"][1]["policy"].endswith("iter-0/train/checkpoint")
    # the kept answer is the judge's best, and the fine-tuned policy differs from the start
    rows = [json.loads(x) for x in samples0.splitlines()]
    data = [json.loads(x) for x in (out / "iter-0" / "dataset.jsonl").read_text().splitlines()]
    assert [d["completion"] for d in data] == [r["winner"]["text"] for r in rows if r["winner"]["text"].strip()]
    from safetensors.torch import load_file

    a = load_file(str(tiny_model_dir / "model.safetensors"))
    b = load_file(str(out / "iter-1" / "train" / "checkpoint" / "model.safetensors"))
    assert any(not a[k].equal(b[k]) for k in a)
    # a finished run reruns as a no-op; a different config in the same directory is refused
    assert main(args) == 0 and calls == ["iter-0", "iter-1", "iter-1"]
    assert main(args[:-1] + ["top_k=2"]) == 1
