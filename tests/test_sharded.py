"""Sharded training saves the model it trained: DeepSpeed ZeRO-3 (every parameter partitioned:
stage3_param_persistence_threshold 0, as an 8B model's weights are) and FSDP2 (full shard, the
shipped recipe's rank-0 loading), each launched as 2 processes over gloo on CPU from the shipped
accelerate configs, give the same weights as one process at the same global batch, for BT (score
head included), GenRM SFT (plain and LoRA, merged after gathering) and STaR-DPO's training step
(its reference model sharded too). A launched `train --eval-data` finishes and writes its eval once.

accelerate runs FSDP only on accelerators; tests/assets/fsdp_on_cpu keeps its plugin on CPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("deepspeed")

from test_distributed import write_pairs

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / "assets"
TRAIN = ["max_steps=2", "learning_rate=1e-2", "warmup_steps=0", "logging_steps=1"]
ZERO = {"zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
                               "stage3_gather_16bit_weights_on_model_save": True},
         "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", "train_batch_size": "auto",
         "gradient_clipping": "auto", "bf16": {"enabled": "auto"}}


# variants of the shipped recipes: ZeRO-3 as shipped (every parameter partitioned) and ZeRO-2; FSDP2 as
# shipped (rank-0 loading) and loading on every rank. FSDP1 does not run on CPU (torch's
# sync_module_states and accelerate's device_id are GPU-only): its full-state-dict gathering is
# accelerate's own, checked on GPUs by benchmarks/gpu_check.py
VARIANTS = {"zero3": ("deepspeed-zero3", {"stage": 3}), "zero2": ("deepspeed-zero3", {"stage": 2}),
            "fsdp2": ("fsdp", {}), "fsdp2-every-rank-loads": ("fsdp", {"fsdp_cpu_ram_efficient_loading": False})}


def accelerate_config(tmp: Path, variant: str, port: int) -> Path:
    """The shipped recipe of `variant`, made 2 processes on CPU in fp32."""
    recipe, changes = VARIANTS[variant]
    config = yaml.safe_load((ROOT / "recipes" / "accelerate" / f"{recipe}.yaml").read_text())
    config.update(num_processes=2, use_cpu=True, main_process_port=port)
    if recipe == "deepspeed-zero3":
        zero = {**ZERO, "zero_optimization": {**ZERO["zero_optimization"], **changes}}
        (tmp / "ds.json").write_text(json.dumps(zero))
        config["deepspeed_config"] = {"deepspeed_config_file": str(tmp / "ds.json"),
                                      "zero3_init_flag": changes["stage"] == 3}
        config.pop("mixed_precision")  # the DeepSpeed file decides it
    else:
        assert config["fsdp_config"]["fsdp_cpu_ram_efficient_loading"] is True  # as shipped: the option that crashed
        config["fsdp_config"].update(changes)
        config["mixed_precision"] = "no"
    path = tmp / f"{variant}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def command(method: str, model: Path, data: Path, out: Path, extra: list[str]) -> list[str]:
    if method == "dpo":
        return [str(ASSETS / "train_dpo.py"), str(model), str(out), *extra]
    return ["-m", "genrm.cli", "train", method.split("-")[0], "--model", str(model), "--data", str(data),
            "--out", str(out), *extra]


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def weights(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(out / "checkpoint" / "model.safetensors")


@pytest.fixture(scope="module")
def env():
    return dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                PYTHONPATH=os.pathsep.join([str(ASSETS / "fsdp_on_cpu"), str(ROOT)]), GENRM_TEST_FSDP_ON_CPU="1")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl")


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, data, env, tmp_path_factory):
    """The 1-process run of each method at batch 4 (computed once per method)."""
    done = {}

    def get(method: str, extra: list[str]) -> dict:
        if method not in done:
            out = tmp_path_factory.mktemp(f"one-{method}")
            run([sys.executable, *command(method, tiny_model_dir, data, out, [*extra, "per_device_train_batch_size=4"])],
                env)
            done[method] = weights(out)
        return done[method]

    return get


METHODS = {"bt": [], "genrm": [], "genrm-lora": ["lora.r=4", "lora.alpha=8"], "dpo": []}


@pytest.mark.parametrize("backend, method", [
    ("zero3", "bt"), ("zero3", "genrm"), ("zero3", "genrm-lora"), ("zero3", "dpo"), ("fsdp2", "bt"), ("fsdp2", "genrm"),
    ("fsdp2", "dpo"), ("zero2", "genrm"), ("fsdp2-every-rank-loads", "genrm")])
def test_sharded_training_saves_the_model_it_trained(backend, method, tiny_model_dir, data, env, one_process, tmp_path):
    from safetensors.torch import load_file

    extra = [*TRAIN, *METHODS[method]]
    if method == "bt":
        extra = ["--eval-data", str(data), *extra]  # a launched train with held-out data finishes, evaluated once
    port = 29600 + 10 * list(METHODS).index(method) + list(VARIANTS).index(backend)
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    out = tmp_path / "run"
    proc = run([accelerate, "launch", "--config_file", str(accelerate_config(tmp_path, backend, port)),
                *command(method, tiny_model_dir, data, out, [*extra, "per_device_train_batch_size=2"])], env)
    assert not list(out.glob(".checkpoint*")), "a rank left a partial checkpoint behind"
    sharded, single = weights(out), one_process(method, extra)
    base = load_file(tiny_model_dir / "model.safetensors")
    assert set(sharded) == set(single), "the sharded checkpoint holds other tensors"
    assert all(t.numel() for t in sharded.values()), "a tensor was saved empty (a partition, not the whole)"
    assert not any("lora" in name for name in sharded), "LoRA was saved unmerged"
    assert any(not torch.equal(sharded[k], base[k]) for k in base if k in sharded), "training changed nothing"
    for name in single:
        assert torch.allclose(sharded[name], single[name], atol=1e-4), f"{name}: {backend} differs from 1 process"
    if method == "bt":
        assert "score.weight" in sharded
        results = json.loads((out / "eval" / "results.json").read_text())
        assert results["n"] == 8
        assert proc.stdout.count("held-out accuracy") == 1, "every process printed its report"
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(out / "checkpoint").architectures  # loads with plain transformers
