"""Training BT and GenRM judges on a tiny model: loss falls, every trained parameter changes, 16 pairs
are overfit to 100%, the CLI runs for real, the single-token indicator check fails clearly.

The tiny model here has a tokenizer whose vocabulary covers the judge template (a 30-token judge
prompt instead of ~480), which keeps GenRM training to seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny
import torch

from genrm.judges.prompts import SYSTEM
from genrm.types import PreferencePair

FAST = {"lr_scheduler_type": "constant", "warmup_steps": 0, "weight_decay": 0.0, "disable_tqdm": True,
        "logging_steps": 5, "per_device_train_batch_size": 8}
WORDS = ["apple banana cherry", "the lazy dog sleeps", "What is 2+2? List three fruits. Name a colour."]


def save_judge_tiny(directory: Path) -> Path:
    """A tiny random Llama whose byte-level BPE merges across spaces, trained on the judge template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    template = ("[User Question]\n\n[The Start of Assistant A's Answer]\n[The End of Assistant A's Answer]\n\n"
                "[The Start of Assistant B's Answer]\n[The End of Assistant B's Answer]")
    system = [SYSTEM["indicator"], SYSTEM["cot"], SYSTEM["cot"]]  # fixed: the vocabulary (and so the test) stays put
    corpus = tiny._CORPUS + system + [template, "<|im_start|>system\nuser\nassistant\n"] + WORDS
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=tiny.SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>")
    fast.chat_template = tiny.CHATML
    tiny.build_model(fast).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def make_pairs(n: int = 16) -> list[PreferencePair]:
    """Pairs a tiny model can separate: the chosen answer names fruit, the rejected one a dog."""
    questions = ["What is 2+2?", "List three fruits.", "Name a colour.", "the quick brown fox"]
    chosen = ["apple banana cherry", "apple banana cherry", "banana apple", "apple banana cherry"]
    rejected = ["the lazy dog sleeps", "the lazy dog sleeps", "the lazy dog sleeps", "the dog"]
    return [PreferencePair(id=f"p{i}", prompt=[{"role": "user", "content": f"{questions[i % 4]} #{i}"}],
                           chosen=[{"role": "assistant", "content": chosen[(i // 4) % 4]}],
                           rejected=[{"role": "assistant", "content": rejected[(i + i // 4) % 4]}],
                           subset="toy", source=f"toy.jsonl:{i + 1}") for i in range(n)]


def write_jsonl(path: Path, pairs) -> Path:
    path.write_text("".join(json.dumps({"prompt": p.prompt[0]["content"], "chosen": p.chosen_text,
                                        "rejected": p.rejected_text}) + "\n" for p in pairs))
    return path


@pytest.fixture(scope="module")
def judge_tiny(tmp_path_factory) -> Path:
    return save_judge_tiny(tmp_path_factory.mktemp("judge-tiny"))


@pytest.fixture(scope="module")
def bt_run(judge_tiny, tmp_path_factory):
    from genrm.train.bt import train_bt

    out = tmp_path_factory.mktemp("bt-run")
    pairs = make_pairs()
    train_bt(str(judge_tiny), pairs, out, {**FAST, "learning_rate": 1e-2, "max_steps": 12}, eval_pairs=pairs)
    return out


@pytest.fixture(scope="module")
def genrm_run(judge_tiny, tmp_path_factory):
    from genrm.train.genrm import train_genrm

    out = tmp_path_factory.mktemp("genrm-run")
    pairs = make_pairs()
    train_genrm(str(judge_tiny), pairs, out, {**FAST, "learning_rate": 1e-2, "max_steps": 80, "per_device_train_batch_size": 4}, eval_pairs=pairs)
    return out


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_all_changed(before: dict, after: dict, frozen_prefixes: tuple[str, ...] = ()):
    assert set(before) == set(after)
    for name, value in before.items():
        same = torch.equal(value, after[name])
        if name.startswith(frozen_prefixes):
            assert same, f"{name} is frozen but changed"
        else:
            assert not same, f"{name} did not change in training"


def test_bt_loss_falls_params_change_and_overfits(bt_run, judge_tiny):
    from transformers import AutoModelForSequenceClassification, set_seed

    from genrm.train.common import losses

    history = losses(bt_run)
    assert history[-1] < history[0] * 0.5, history
    set_seed(0)  # the trainer's seed: the same random score head as at the start of training
    before = _state(AutoModelForSequenceClassification.from_pretrained(judge_tiny, num_labels=1))
    after = _state(AutoModelForSequenceClassification.from_pretrained(bt_run / "checkpoint"))
    assert_all_changed(before, after)
    result = json.loads((bt_run / "eval" / "results.json").read_text())["pooled"]
    assert result["accuracy"] == 1.0 and result["n"] == 16
    assert result["ci95"][0] > 0.75 and result["ci95"][1] == 1.0
    card = json.loads((bt_run / "checkpoint" / "genrm_judge.json").read_text())
    assert card["kind"] == "bt" and card["data"]["train"]["pairs"] == 16


def test_genrm_loss_falls_params_change_and_overfits_both_orders(genrm_run, judge_tiny):
    from transformers import AutoModelForCausalLM

    from genrm.train.common import losses

    history = losses(genrm_run)
    assert history[-1] < 0.2 < history[0], history  # well below chance (ln 2): not just the position prior
    assert_all_changed(_state(AutoModelForCausalLM.from_pretrained(judge_tiny)),
                       _state(AutoModelForCausalLM.from_pretrained(genrm_run / "checkpoint")))
    result = json.loads((genrm_run / "eval" / "results.json").read_text())["pooled"]
    # right for every pair in each order on its own, not only on the mean over orders
    assert (result["accuracy"], result["chosen_first_accuracy"], result["chosen_second_accuracy"]) == (1.0, 1.0, 1.0)
    card = json.loads((genrm_run / "checkpoint" / "genrm_judge.json").read_text())
    assert card["kind"] == "genrm" and card["indicators"] == ["A", "B"] and card["both_orders"] is True
    assert card["template"] == "indicator" and card["train_examples"] == 32  # both orders of 16 pairs
    assert card["paired_batches"] is True


def test_paired_units_stay_together_and_reshuffle_each_pass():
    from genrm.train.common import units_in_order

    rows = [{"i": i} for i in range(8)]  # 4 units of 2
    laid = units_in_order(rows, 2, total=20, seed=1)
    assert len(laid) == 24  # whole passes (3 x 8)
    assert all(laid[k]["i"] // 2 == laid[k + 1]["i"] // 2 and laid[k]["i"] % 2 == 0 for k in range(0, 24, 2))
    passes = [[r["i"] for r in laid[k:k + 8]] for k in range(0, 24, 8)]
    assert all(sorted(p) == list(range(8)) for p in passes) and passes[0] != passes[1]
    assert laid == units_in_order(rows, 2, total=20, seed=1) and units_in_order(rows, 2, 0, 0) != []


def test_genrm_examples_balanced_labels():
    from genrm.train.genrm import genrm_examples

    examples = genrm_examples(make_pairs(3))
    assert [e.completion for e in examples] == ["A", "B"] * 3
    assert not any(e.eos for e in examples)
    first, second = examples[0].prompt[1]["content"], examples[1].prompt[1]["content"]
    assert first.index("apple") < first.index("dog") and second.index("dog") < second.index("apple")


def test_freeze_layers_and_center_rewards_reach_the_trainer(judge_tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification, set_seed
    from trl import RewardConfig

    from genrm.train.bt import train_bt
    from genrm.train.common import make_args

    args, own = make_args(RewardConfig, {"center_rewards_coefficient": 0.01, "freeze_layers": 1}, tmp_path)
    assert args.center_rewards_coefficient == 0.01 and own == {"freeze_layers": 1}
    train_bt(str(judge_tiny), make_pairs(8), tmp_path,
             {**FAST, "learning_rate": 1e-2, "max_steps": 2, "freeze_layers": 1, "center_rewards_coefficient": 0.01})
    set_seed(0)
    before = _state(AutoModelForSequenceClassification.from_pretrained(judge_tiny, num_labels=1))
    after = _state(AutoModelForSequenceClassification.from_pretrained(tmp_path / "checkpoint"))
    assert_all_changed(before, after, frozen_prefixes=("model.embed_tokens.", "model.layers.0."))


def test_single_token_indicator_check(judge_tiny, tmp_path, monkeypatch):
    import genrm.train.genrm as genrm_train

    monkeypatch.setattr(genrm_train, "INDICATORS", ("Assistant A wins", "B"))
    with pytest.raises(ValueError, match="indicator 'Assistant A wins' is .* tokens.*single-token"):
        genrm_train.train_genrm(str(judge_tiny), make_pairs(2), tmp_path, {"max_steps": 1})
    assert not (tmp_path / "checkpoint").exists()  # checked before any training


def test_cli_train_bt_and_genrm(judge_tiny, tmp_path, capsys):
    import yaml

    from genrm.cli import main

    data = write_jsonl(tmp_path / "train.jsonl", make_pairs(6))
    held_out = write_jsonl(tmp_path / "eval.jsonl", make_pairs(20)[16:])
    run = tmp_path / "bt"
    rc = main(["train", "bt", "--model", str(judge_tiny), "--data", str(data), "--out", str(run),
               "--eval-data", str(held_out), "max_steps=2", "learning_rate=1e-3", "center_rewards_coefficient=0.01",
               "disable_tqdm=true", "freeze_layers=1"])
    assert rc == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["method"] == "bt" and config["config"]["max_steps"] == 2
    assert config["config"]["center_rewards_coefficient"] == 0.01 and config["config"]["adam_beta2"] == 0.95
    assert (run / "checkpoint" / "model.safetensors").is_file() and (run / "train_log.json").is_file()
    result = json.loads((run / "eval" / "results.json").read_text())["pooled"]
    assert result["n"] == 4 and len(result["ci95"]) == 2
    assert "held-out accuracy" in capsys.readouterr().out

    run = tmp_path / "genrm"
    rc = main(["train", "genrm", "--model", str(judge_tiny), "--data", str(data), "--out", str(run),
               "max_steps=1", "lora.r=4", "disable_tqdm=true"])
    assert rc == 0 and (run / "checkpoint" / "genrm_judge.json").is_file() and not (run / "eval").exists()
    assert not any("lora" in name for name in json.loads((run / "checkpoint" / "config.json").read_text()))

    rc = main(["train", "bt", "--model", str(judge_tiny), "--data", str(data), "--out", str(tmp_path / "bad"),
               "learnin_rate=1e-3"])
    assert rc == 1 and "unknown config key 'learnin_rate'" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["genrm", "bt"])
def test_cached_frozen_layers_train_the_same_weights(method, judge_tiny, tmp_path):
    """The frozen bottom computed once per sequence: the same losses and trained weights as
    running it at every step (the top block trains; the bottom and the embeddings stay put)."""
    from genrm.train.bt import train_bt
    from genrm.train.common import losses
    from genrm.train.genrm import train_genrm

    train = {"genrm": train_genrm, "bt": train_bt}[method]
    config = {**FAST, "learning_rate": 1e-2, "max_steps": 4, "per_device_train_batch_size": 4, "freeze_layers": 1,
              "logging_steps": 1, "activation_checkpointing": False}
    runs = {}
    for cached in (False, True):
        out = tmp_path / f"cached-{cached}"
        train(str(judge_tiny), make_pairs(8), out, {**config, "cache_frozen_layers": cached})
        runs[cached] = (losses(out), load_state(method, out / "checkpoint"))
    assert runs[True][0] == pytest.approx(runs[False][0], abs=1e-4)
    plain, cached = runs[False][1], runs[True][1]
    assert set(plain) == set(cached)
    for name in plain:
        assert torch.allclose(plain[name], cached[name], atol=1e-4), name
    before = load_state(method, judge_tiny)
    changed = [n for n in plain if n in before and not torch.equal(before[n], cached[n])]
    assert changed and all(".layers.1." in n or n.startswith(("model.norm", "score", "lm_head")) for n in changed)


def load_state(method: str, path) -> dict:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    set_seed(0)  # the same random score head as at the start of training
    cls = AutoModelForCausalLM if method == "genrm" else AutoModelForSequenceClassification
    kwargs = {} if method == "genrm" else {"num_labels": 1}
    return _state(cls.from_pretrained(path, **kwargs))


def test_cached_frozen_layers_train_the_same_dpo_weights(judge_tiny, tmp_path, monkeypatch):
    """DPO with the frozen bottom cached: the reference's log-probs computed once up front, the
    policy's top trained on cached activations; the same losses and weights as the plain run,
    also when only the verdict letter is compared (loss_on: verdict)."""
    from genrm.train.common import losses
    from genrm.train.dpo import DPOExample, train_dpo

    prompt = [{"role": "user", "content": "which one?"}]
    examples = [DPOExample(prompt, "[[A]]", "[[B]]"), DPOExample(prompt, "B", "A", "reads well [[", "too short [[", "]]", "]]")] * 4
    config = {**FAST, "learning_rate": 1e-2, "max_steps": 3, "per_device_train_batch_size": 4, "freeze_layers": 1,
              "logging_steps": 1, "beta": 0.5}
    from genrm.train.cached import CachedActivations

    lookups = []
    forward = CachedActivations.forward
    monkeypatch.setattr(CachedActivations, "forward", lambda self, ids: lookups.append(len(ids)) or forward(self, ids))
    runs = {}
    for cached in (False, True):
        out = tmp_path / f"cached-{cached}"
        train_dpo(str(judge_tiny), examples, out, {**config, "cache_frozen_layers": cached})
        runs[cached] = (losses(out), load_state("genrm", out / "checkpoint"))
        assert len(lookups) == (1 + 3 if cached else 0)  # reference log-probs (the 2 distinct pairs of 8), then 3 steps
    assert runs[True][0] == pytest.approx(runs[False][0], abs=1e-4) and runs[True][0][-1] < runs[True][0][0]
    for name, weight in runs[False][1].items():
        assert torch.allclose(weight, runs[True][1][name], atol=1e-4), name


@pytest.mark.parametrize("method", ["genrm", "dpo"])
def test_labelled_positions_only_train_the_same_weights(method, judge_tiny, tmp_path, monkeypatch):
    """TRL's LM head fed only the labelled positions on CPU (label_positions_only): the same
    losses and trained weights as TRL's CPU default, which projects every position."""
    from contextlib import nullcontext

    import trl.trainer.utils as trl_utils

    from genrm.train import common, dpo
    from genrm.train.common import label_positions_only, losses
    from genrm.train.dpo import DPOExample
    from genrm.train.genrm import train_genrm

    config = {**FAST, "learning_rate": 1e-2, "max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1}
    examples = [DPOExample(prompt=[{"role": "user", "content": f"question {i}"}], chosen=f"[[A]] {i}",
                           rejected="[[B]] no") for i in range(8)]
    runs = {}
    for compact in (False, True):
        monkeypatch.setattr(common, "label_positions_only", label_positions_only if compact else nullcontext)
        out = tmp_path / f"compact-{compact}"
        if method == "genrm":
            train_genrm(str(judge_tiny), make_pairs(8), out, config)
        else:
            dpo.train_dpo(str(judge_tiny), examples, out, {**config, "beta": 0.1})
        runs[compact] = (losses(out), load_state("genrm", out / "checkpoint"))
    assert runs[True][0] == pytest.approx(runs[False][0], abs=1e-4)
    for name, value in runs[False][1].items():
        assert torch.allclose(value, runs[True][1][name], atol=1e-4), name
    with label_positions_only():
        assert trl_utils._use_triton(torch.device("cpu"))
    assert not trl_utils._use_triton(torch.device("cpu"))  # restored


def test_train_recipe_keys_with_options_overriding_and_tensorboard(judge_tiny, tmp_path):
    """A recipe sets model, data and trainer keys; command-line options override it; TRL's
    report_to reaches the trainer and TensorBoard writes its events under the run dir, offline."""
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from genrm.cli import main

    data = write_jsonl(tmp_path / "train.jsonl", make_pairs(8))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"model": str(judge_tiny), "data": "missing.jsonl", "max_train_pairs": 6,
                                      "max_steps": 2, "logging_steps": 1, "learning_rate": 1e-3,
                                      "report_to": "tensorboard", "disable_tqdm": True}))
    run = tmp_path / "run"
    assert main(["train", "bt", "--config", str(recipe), "--data", str(data), "--out", str(run), "max_steps=3"]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"] == str(judge_tiny) and config["data"] == str(data) and config["train_pairs"] == 6
    assert config["config"]["report_to"] == "tensorboard" and config["config"]["max_steps"] == 3
    card = json.loads((run / "checkpoint" / "genrm_judge.json").read_text())
    assert card["data"]["train"]["pairs"] == 6
    events = sorted(run.glob("trainer/runs/*/events.out.tfevents.*"))
    assert events, sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert len(accumulator.Scalars("train/loss")) == 3


def test_report_to_defaults_to_none_and_is_the_users_choice(tmp_path):
    from trl import RewardConfig, SFTConfig

    from genrm.train.common import make_args

    assert make_args(RewardConfig, {}, tmp_path)[0].report_to in ([], "none", ["none"])
    for cls in (RewardConfig, SFTConfig):
        assert make_args(cls, {"report_to": "tensorboard"}, tmp_path)[0].report_to == ["tensorboard"]


def test_frozen_cache_lives_on_disk_shows_progress_and_is_removed(judge_tiny, capsys):
    import gc
    import os

    from transformers import AutoModelForCausalLM

    from genrm.train.cached import CachedBottom, DiskCache

    model = AutoModelForCausalLM.from_pretrained(judge_tiny)
    rows = [[5 + (i % 7), 9, 11 + i % 5, 3][: 2 + i % 3] + [i % 50 + 20] for i in range(80)]
    bottom = CachedBottom(model, 1, rows, pad_id=0, batch_size=4)
    cache = bottom.cache
    assert isinstance(cache, DiskCache) and len(cache) == len({tuple(r) for r in rows})
    assert os.path.getsize(cache.path) == cache.nbytes > 0  # every activation is in the file, not in memory
    with torch.no_grad():
        direct = model.model.layers[0](model.model.embed_tokens(torch.tensor([rows[3]])),
                                       position_embeddings=model.model.rotary_emb(
                                           model.model.embed_tokens(torch.tensor([rows[3]])),
                                           torch.arange(len(rows[3]))[None]))
    direct = direct[0] if isinstance(direct, tuple) else direct
    assert torch.allclose(cache.get(tuple(rows[3])), direct[0], atol=1e-5)  # block 1's input, read back from disk
    assert "caching the frozen 1 blocks" in capsys.readouterr().err
    directory = cache.directory
    del bottom, cache
    gc.collect()
    assert not os.path.exists(directory)
