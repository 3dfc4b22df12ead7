"""`accelerate launch --multi_gpu --num_processes 2` (gloo on CPU): training at 2 x batch 2 gives the
same weights as one process at batch 4 and saves once; eval sharded across the processes gives the
same results as one process. (`--cpu --num_processes 2` would start ONE process: check_launch.)"""
import json
import os
import subprocess
import sys

import pytest
import torch

PAIRS = [("Say hi in lowercase.", "hi there", "HI THERE"), ("What is 2+2?", "4", "5"),
         ("Name a fruit.", "An apple.", "A brick."), ("Say no.", "No.", "Yes."),
         ("Reply with one word.", "Okay.", "Okay, I will reply."), ("Name a colour.", "Red.", "Seven."),
         ("Is ice cold?", "Yes, ice is cold.", "No, ice is hot."), ("Spell cat.", "c-a-t", "d-o-g")]


def write_pairs(path):
    path.write_text("".join(json.dumps({"prompt": q, "chosen": c, "rejected": r, "subset": "alpacaeval-easy",
                                        "id": str(i)}) + "\n" for i, (q, c, r) in enumerate(PAIRS)))
    return path


def run(cmd, env):
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")


def launch(n):
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    return [accelerate, "launch", "--multi_gpu", "--num_processes", str(n), "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533", "-m", "genrm.cli"]


@pytest.mark.parametrize("method", ["bt", "genrm"])
def test_two_process_training_and_sharded_eval(tmp_path, tiny_model_dir, env, method):
    from safetensors.torch import load_file

    data = write_pairs(tmp_path / "pairs.jsonl")
    weights = {}
    for procs, batch in ((1, 4), (2, 2)):  # the same global batch of 4
        out = tmp_path / f"run-{procs}"
        cmd = [sys.executable, "-m", "genrm.cli"] if procs == 1 else launch(2)
        run(cmd + ["train", method, "--model", str(tiny_model_dir), "--data", str(data), "--out", str(out), "max_steps=2",
                   "learning_rate=1e-2", "warmup_steps=0", f"per_device_train_batch_size={batch}"], env)
        assert not list(out.glob(".checkpoint*")), "a rank left a partial checkpoint behind"
        weights[procs] = load_file(out / "checkpoint" / "model.safetensors")
    base = load_file(tiny_model_dir / "model.safetensors")
    assert any(not (weights[2][k] == base[k]).all() for k in base if k in weights[2]), "training changed nothing"
    # one process at batch 2 would take other steps (half the data each): equal weights mean 2 real processes
    for k in weights[1]:
        assert torch.allclose(weights[2][k], weights[1][k], atol=1e-4), f"{k}: 2-process training differs from 1-process"
    results = {}
    for procs in (1, 2):
        out = tmp_path / f"eval-{procs}"
        cmd = ([sys.executable, "-m", "genrm.cli"] if procs == 1 else launch(2)) + [
            "eval", "--bench", "rewardbench", "--model", str(tmp_path / "run-2"), "--data", str(data),
            "--batch-size", "3", "--out", str(out)]
        run(cmd, env)
        results[procs] = json.loads((out / "results.json").read_text())
    one, two = results[1]["examples"], results[2]["examples"]
    assert [e["id"] for e in two] == [e["id"] for e in one] and len(one) == len(PAIRS)
    for got, want in zip(two, one):
        assert got["p_chosen"] == pytest.approx(want["p_chosen"], abs=1e-5)
        assert got["correct"] == want["correct"]
    assert results[2]["subsets"] == results[1]["subsets"] or all(
        results[2]["subsets"][k]["accuracy"] == results[1]["subsets"][k]["accuracy"] for k in results[1]["subsets"])


def test_check_launch_names_a_single_process_cpu_launch(monkeypatch):
    from genrm.distributed import check_launch

    for key in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")  # what `accelerate launch --cpu --num_processes 2` leaves
    assert "ONE process" in check_launch() and "--multi_gpu" in check_launch()
    monkeypatch.setenv("WORLD_SIZE", "2")  # a real process group
    assert check_launch() is None
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("MASTER_ADDR")  # a plain single-process run
    assert check_launch() is None


def test_each_launched_process_takes_the_gpu_of_its_local_rank(monkeypatch):
    from genrm import models

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert models.default_device() == "cuda:2"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # a launcher that shows each process only its GPU
    assert models.default_device() == "cuda:0"
    monkeypatch.delenv("LOCAL_RANK")
    assert models.default_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert models.default_device() == "cpu"


def test_tensor_parallel_above_the_visible_gpus_fails_before_loading(monkeypatch, tmp_path, capsys):
    from genrm.cli import main
    from genrm.config import ConfigError
    from genrm.distributed import check_tensor_parallel

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    check_tensor_parallel(2, "sampling.tensor_parallel_size")
    with pytest.raises(ConfigError, match=r"sampling.tensor_parallel_size=8 but this process sees 2 GPU\(s\) "
                                          r"\(CUDA_VISIBLE_DEVICES=0,1\): set sampling.tensor_parallel_size=2"):
        check_tensor_parallel(8, "sampling.tensor_parallel_size")
    # the 8B recipe refuses before any data or model is read (its data file does not even exist here)
    recipe = os.path.join(os.path.dirname(__file__), "..", "recipes", "eval-cot-llama8b.yaml")
    assert main(["eval", "--config", recipe, "--out", str(tmp_path / "out"),
                 "--data", str(tmp_path / "missing.jsonl")]) == 1
    assert "tensor_parallel_size=8 but this process sees 2 GPU(s)" in capsys.readouterr().out


def test_launched_vllm_engines_are_one_per_process(monkeypatch):
    """Under a launcher each process's engine joins the launcher's group (TRL's colocated way); an
    engine over several GPUs is refused there, naming the setting."""
    from genrm.config import ConfigError
    from genrm.generation.vllm import launched_options

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launched_options(1) == {} and launched_options(8) == {}
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert launched_options(1) == {"distributed_executor_backend": "external_launcher"}
    with pytest.raises(ConfigError, match="sampling.tensor_parallel_size=1"):
        launched_options(2)
