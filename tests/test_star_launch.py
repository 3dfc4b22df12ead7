"""STaR launched on every node: data-parallel sampling into per-process journals merged by the main
process, training in every process, one writer of the run directory. Two nodes are stood in for by
two `accelerate launch` commands on this host (`--num_machines 2`, machine ranks 0 and 1, gloo on CPU,
one process each); the run must equal a 1-process run (same samples, same data set, same weights)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from test_cot import build_verdict_model, make_pairs
from test_star import TINY, keys

from genrm.runs import read_jsonl


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, tmp_path_factory):
    return str(build_verdict_model(tiny_model_dir, tmp_path_factory.mktemp("star-launch-verdict")))


def write(path, pairs):
    path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in pairs))
    return str(path)


def star_command(tmp_path, model_dir, out, batch):
    config = {**TINY, "seed": 1, "balance": "position",
              "train": {**TINY["train"], "per_device_train_batch_size": batch}}
    (tmp_path / f"config-{batch}.yaml").write_text(yaml.safe_dump(config))
    return ["star", "--method", "sft", "--model", model_dir, "--config", str(tmp_path / f"config-{batch}.yaml"),
            "--data", write(tmp_path / "train.jsonl", make_pairs(6)),
            "--eval-data", write(tmp_path / "held-out.jsonl", make_pairs(3, seed=9)), "--out", str(out)]


def node(rank: int, port: int) -> list[str]:
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    return [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "2", "--machine_rank",
            str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", str(port), "--mixed_precision", "no",
            "--dynamo_backend", "no", "-m", "genrm.cli"]


def test_two_nodes_sample_train_and_evaluate_as_one_process(model_dir, tmp_path):
    from safetensors.torch import load_file

    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    one = tmp_path / "one"
    proc = subprocess.run([sys.executable, "-m", "genrm.cli"] + star_command(tmp_path, model_dir, one, 4),
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    two = tmp_path / "two"
    command = star_command(tmp_path, model_dir, two, 2)  # 2 processes x 2 = the 1-process batch of 4
    nodes = [subprocess.Popen(node(rank, 29541) + command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) for rank in (0, 1)]
    outputs = [n.communicate(timeout=600)[0] for n in nodes]
    for n, output in zip(nodes, outputs):
        assert n.returncode == 0, output[-4000:]
    rows = {run: read_jsonl(run / "iter-1/samples.jsonl") for run in (one, two)}
    assert keys(rows[two]) == keys(rows[one]) and set(keys(rows[one]).values()) == {1}  # each key once
    assert sorted(json.dumps(r, sort_keys=True) for r in rows[two]) == sorted(json.dumps(r, sort_keys=True) for r in rows[one])
    assert not list((two / "iter-1").glob("samples.jsonl.part-*")), "a process's part was left behind"
    assert json.loads((two / "iter-1/dataset.json").read_text()) == json.loads((one / "iter-1/dataset.json").read_text())
    ledger = json.loads((two / "ledger.json").read_text())
    assert ledger["iter-1"]["train_steps"] == 2 and ledger["iter-1/sample"]["samples"] == 24
    assert ledger["iter-1/sample"]["processes"] == 2 and json.loads((one / "ledger.json").read_text())["iter-1/sample"]["processes"] == 1
    weights = {run: load_file(run / "iter-1/train/checkpoint/model.safetensors") for run in (one, two)}
    base = load_file(os.path.join(model_dir, "model.safetensors"))
    assert any(not torch.equal(weights[two][k], base[k]) for k in base), "training changed nothing"
    for k in weights[one]:  # equal weights: both processes trained (one process at batch 2 would differ)
        assert torch.allclose(weights[two][k], weights[one][k], atol=1e-4), k
    held_out = {run: json.loads((run / "iter-1/eval/held-out/results.json").read_text()) for run in (one, two)}
    assert [e["id"] for e in held_out[two]["examples"]] == [e["id"] for e in held_out[one]["examples"]]
    assert held_out[two]["pooled"]["accuracy"] == held_out[one]["pooled"]["accuracy"]


def test_a_killed_launch_resumes_from_its_parts_at_another_process_count(tmp_path):
    """The parts a killed 2-process launch left are merged first (once each, though both processes
    wrote one row), and only the prompts still incomplete are drawn again, here by one process."""
    from test_cot import ScriptedGenerator

    from genrm.generation.base import SamplingParams
    from genrm.star.samples import mark, part_path, plan, sample_across

    pairs = make_pairs(3)
    items = plan(pairs, both_orders=True)
    path = tmp_path / "samples.jsonl"
    done = [mark(p.id, o, j, "[[A]]", 3, True) for p, o in items[:2] for j in range(2)]
    part_path(path, 0).write_text("".join(json.dumps(r) + "\n" for r in done[:3]))
    part_path(path, 1).write_text("".join(json.dumps(r) + "\n" for r in done[2:]))  # row 2 in both parts
    gen = ScriptedGenerator(["[[B]]"])
    rows = sample_across(lambda: gen, items, 2, SamplingParams(n=1, max_new_tokens=4), path)
    assert keys(rows) == {(p.id, o, j): 1 for p, o in items for j in range(2)}
    assert sum(n for n, _, _ in gen.calls) == len(items) - 2  # the 2 complete prompts were not drawn again
    assert [r["text"] for r in rows[:4]] == ["[[A]]"] * 4 and not list(tmp_path.glob("*.part-*"))
    assert len(read_jsonl(path)) == len(items) * 2


def test_launch_setting_under_a_launcher_is_refused(model_dir, tmp_path, monkeypatch):
    """`launch` starts a launcher for each training step of a 1-process loop; when the loop is itself
    launched, every process already trains, and a second launcher would nest: refused, naming the fix."""
    from genrm.config import ConfigError
    from genrm.star import run_star

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr("genrm.star.loop.wait_for_everyone", lambda: None)
    with pytest.raises(ConfigError, match=r"launch=null"):
        run_star(tmp_path / "run", method="sft", model=model_dir, train_pairs=make_pairs(4), eval_pairs=make_pairs(2),
                 config={**TINY, "launch": "accelerate launch --num_processes 2"}, progress=False)
    assert not (tmp_path / "run/config.yaml").exists()  # refused before anything is written
