"""Precision that learns: with bf16 on (the GPU default) the trained weights stay fp32 and bf16 is
autocast, so at the paper's learning rate (1e-6) the weights move as in fp32; pure bf16 weights
(precision=bf16) lose most of those updates and say so, naming the learning rate. CPU autocast
runs the same bf16 path as a GPU's."""
import pytest
import torch
from safetensors.torch import load_file
from test_train import FAST, make_pairs

from genrm.config import ConfigError
from genrm.train.bt import train_bt

STEPS = {**FAST, "learning_rate": 1e-6, "max_steps": 3, "per_device_train_batch_size": 4}


def moved(base: dict, out) -> float:
    """The share of the base model's weights that training changed."""
    trained = load_file(out / "checkpoint" / "model.safetensors")
    changed = total = 0
    for name, before in base.items():
        if name in trained:
            changed += int((trained[name] != before.to(trained[name].dtype)).sum())  # bf16: against the base in bf16
            total += before.numel()
    return changed / total


@pytest.fixture(scope="module")
def base(tiny_model_dir):
    return load_file(tiny_model_dir / "model.safetensors")


def test_default_precision_moves_the_weights_as_fp32_does(tiny_model_dir, base, tmp_path, capsys):
    runs = {"fp32": {"precision": "fp32"}, "default with bf16": {"bf16": True, "use_cpu": True},
            "pure bf16": {"bf16": True, "use_cpu": True, "precision": "bf16"}}
    share = {}
    for name, options in runs.items():
        out = tmp_path / name.replace(" ", "-")
        train_bt(str(tiny_model_dir), make_pairs(8), out, {**STEPS, **options})
        share[name] = moved(base, out)
    assert share["fp32"] > 0.5
    assert share["default with bf16"] == pytest.approx(share["fp32"], abs=0.05)
    assert share["pure bf16"] < share["fp32"] / 4, share
    warnings = [line for line in capsys.readouterr().out.splitlines() if "precision=bf16" in line]
    assert len(warnings) == 1 and "learning_rate=1e-06" in warnings[0]


def test_default_precision_keeps_fp32_weights_in_training(tiny_model_dir, tmp_path):
    train_bt(str(tiny_model_dir), make_pairs(4), tmp_path, {**STEPS, "max_steps": 1, "bf16": True, "use_cpu": True})
    saved = load_file(tmp_path / "checkpoint" / "model.safetensors")
    assert {t.dtype for t in saved.values()} == {torch.float32}


def test_unknown_precision_is_a_config_error(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="precision"):
        train_bt(str(tiny_model_dir), make_pairs(4), tmp_path, {**STEPS, "precision": "half"})
