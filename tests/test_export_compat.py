"""Exports readable by transformers 4.x (4.51, as the official RewardBench harness pins it), checked
offline on the files: config.json carries the legacy top-level keys with the values of the new
layout (`rope_theta` and `rope_scaling` beside `rope_parameters`, `torch_dtype` beside `dtype`),
tokenizer_config.json names a class 4.x has and the model's input names (4.x's default adds
token_type_ids, which LlamaForSequenceClassification.forward rejects). The loaded behaviour under
4.51 is measured by benchmarks/official_agreement.py (it needs a second environment)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

# tokenizer classes transformers 4.51's AutoTokenizer resolves for a tokenizer.json-only checkpoint
# (transformers 5 writes "TokenizersBackend", which 4.x does not have)
KNOWN_TO_4X = {"PreTrainedTokenizerFast", "GPT2TokenizerFast", "LlamaTokenizerFast", "Qwen2TokenizerFast"}


def tiny_checkpoint(directory, kind: str, rope: dict | None = None, seed: int = 0):
    """A judge checkpoint as `genrm train` saves one: model, tokenizer, genrm_judge.json. The model
    has a non-default rope_theta (SmolLM2 has 100000), so a 4.x reader without it would differ."""
    from tiny import build_tokenizer
    from transformers import AutoModelForSequenceClassification, LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_parameters=rope or {"rope_type": "default", "rope_theta": 100000.0},
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    if kind == "bt":
        config.num_labels = 1
        model = AutoModelForSequenceClassification.from_config(config)
    else:
        model = LlamaForCausalLM(config)
    model.eval().save_pretrained(directory)
    tok.save_pretrained(directory)
    card = {"kind": kind, "base_model": "tiny"}
    if kind == "genrm":
        card.update(template="indicator", indicators=["A", "B"], both_orders=True)
    if kind == "cot":
        card.update(template="cot", votes=4, both_orders=True)
    (directory / "genrm_judge.json").write_text(json.dumps(card))
    return directory


def export(tmp_path, kind: str, **kwargs):
    from genrm.export.checkpoint import export_run

    checkpoint = tiny_checkpoint(tmp_path / "run" / "checkpoint", kind, **kwargs)
    return checkpoint, export_run(tmp_path / "run", tmp_path / "export")


@pytest.mark.parametrize("kind", ["bt", "genrm", "cot"])
def test_export_files_readable_by_transformers_4(kind, tmp_path):
    checkpoint, out = export(tmp_path, kind)
    config = json.loads((out / "config.json").read_text())
    rope = config["rope_parameters"]
    assert rope["rope_theta"] == 100000.0
    assert config["rope_theta"] == rope["rope_theta"]  # 4.x reads only this (else 10000)
    assert "rope_scaling" in config and config["rope_scaling"] is None  # 4.x: None = default RoPE
    assert config["torch_dtype"] == config["dtype"] == "float32"

    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] in KNOWN_TO_4X
    assert tok_config["model_input_names"] == ["input_ids", "attention_mask"]
    assert "is_local" not in tok_config and "local_files_only" not in tok_config
    assert (out / "tokenizer.json").is_file() and (out / "chat_template.jinja").is_file()
    card = json.loads((out / "genrm_judge.json").read_text())
    assert card["kind"] == kind and card["transformers_compat"]["legacy_keys"]
    assert not card["transformers_compat"]["transformers_4"].startswith("unverified")
    if kind == "cot":
        assert "CoT-GenRM" in (out / "README.md").read_text()

    # transformers 5 reads the same model and tokenizer from the rewritten files
    from transformers import AutoConfig, AutoTokenizer

    assert AutoConfig.from_pretrained(out).rope_parameters == AutoConfig.from_pretrained(checkpoint).rope_parameters
    a, b = AutoTokenizer.from_pretrained(checkpoint), AutoTokenizer.from_pretrained(out)
    conv = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "The answer is 4."}]
    assert a.apply_chat_template(conv, tokenize=False) == b.apply_chat_template(conv, tokenize=False)
    assert a(a.apply_chat_template(conv, tokenize=False))["input_ids"] == b(b.apply_chat_template(conv, tokenize=False))["input_ids"]
    assert sorted(b("x").keys()) == ["attention_mask", "input_ids"]
    assert b.pad_token_id != b.eos_token_id


def test_bt_export_same_scores_genrm_and_plain_transformers(tmp_path):
    """After the rewrite: load_judge on the checkpoint and on the export, and the plain sequence
    classifier fed the harness's inputs (chat-template text, tokenizer(texts) left-padded), agree."""
    from test_train import make_pairs
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genrm import load_judge

    checkpoint, out = export(tmp_path, "bt")
    pairs = make_pairs(6)
    from_checkpoint, exported = (load_judge(str(p)).judge(pairs, batch_size=4) for p in (checkpoint, out))
    assert [j.to_dict() for j in exported] == [j.to_dict() for j in from_checkpoint]

    model = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    tok.padding_side = "left"  # as the RewardBench harness sets it
    texts = [tok.apply_chat_template(p.prompt + p.chosen, tokenize=False) for p in pairs]
    with torch.no_grad():
        scores = model(**tok(texts, padding=True, return_tensors="pt")).logits[:, 0].tolist()
    assert scores == pytest.approx([j.score_chosen for j in exported], abs=1e-4)


def test_legacy_config_rope_variants():
    from genrm.export.checkpoint import legacy_config

    llama3 = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    out, notes = legacy_config({"model_type": "llama", "dtype": "bfloat16", "rope_parameters": llama3})
    assert out["rope_theta"] == 500000.0 and out["torch_dtype"] == "bfloat16" and not notes
    assert out["rope_scaling"] == {k: v for k, v in llama3.items() if k != "rope_theta"}
    assert out["rope_parameters"] == llama3  # the new layout is kept as it was

    out, notes = legacy_config({"rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5}})
    assert out["partial_rotary_factor"] == 0.5 and out["rope_scaling"] is None and not notes

    out, notes = legacy_config({"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0}})
    assert out["rope_scaling"]["rope_type"] == "yarn" and notes and "unverified" in notes[0]

    nested = {"full_attention": {"rope_type": "default", "rope_theta": 1e6},
              "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}
    out, notes = legacy_config({"rope_parameters": nested})
    assert "rope_theta" not in out and notes and "per-layer-type" in notes[0]

    out, notes = legacy_config({"model_type": "x", "text_config": {"model_type": "llama", "rope_parameters": {"rope_theta": 2e5}}})
    assert out["text_config"]["rope_theta"] == 2e5 and not notes


def test_llama3_rope_export_reads_the_same_from_legacy_keys(tmp_path):
    llama3 = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 1024}
    _, out = export(tmp_path, "genrm", rope=llama3)
    config = json.loads((out / "config.json").read_text())
    assert config["rope_theta"] == 500000.0 and config["rope_scaling"]["rope_type"] == "llama3"
    assert config["rope_scaling"]["factor"] == 8.0


def test_inconsistent_legacy_keys_are_an_error(tmp_path):
    """The export checks what the legacy keys say on their own: a rope_theta that disagrees with
    rope_parameters (what 4.x would load) raises instead of exporting a different model."""
    from genrm.export.checkpoint import check_same_under_transformers, make_compatible

    checkpoint = tiny_checkpoint(tmp_path / "checkpoint", "bt")
    copy = tmp_path / "copy"
    shutil.copytree(checkpoint, copy)
    make_compatible(copy)
    check_same_under_transformers(checkpoint, copy)
    config = json.loads((copy / "config.json").read_text())
    config["rope_theta"] = 10000.0
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match="rope_parameters"):
        check_same_under_transformers(checkpoint, copy)


def test_bt_export_pad_token_distinct_from_eos(tmp_path):
    """A BT checkpoint whose tokenizer pads with EOS (SmolLM2's own setting) exports with the pad
    token genrm scores with, in the tokenizer and config.pad_token_id alike."""
    checkpoint = tiny_checkpoint(tmp_path / "run" / "checkpoint", "bt")
    tok_config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    tok_config["pad_token"] = "<|im_end|>"
    (checkpoint / "tokenizer_config.json").write_text(json.dumps(tok_config))
    config = json.loads((checkpoint / "config.json").read_text())
    config["pad_token_id"] = 2
    (checkpoint / "config.json").write_text(json.dumps(config))

    from transformers import AutoTokenizer

    from genrm.export.checkpoint import export_run

    out = export_run(tmp_path / "run", tmp_path / "export")
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id != tok.eos_token_id
    assert json.loads((out / "config.json").read_text())["pad_token_id"] == tok.pad_token_id
    assert json.loads((out / "genrm_judge.json").read_text())["transformers_compat"]["changes"]


def test_dated_chat_template_is_pinned(tmp_path):
    """A template that prints a date (Llama 3.x style) renders genrm's fixed date when a loader
    passes none (the harness does not pass date_string)."""
    from genrm.data import chat
    checkpoint = tiny_checkpoint(tmp_path / "run" / "checkpoint", "bt")
    template = ('{%- if not date_string is defined %}{%- set date_string = "01 Jan 2000" %}{%- endif %}'
                "Today Date: {{ date_string }}\n" + (checkpoint / "chat_template.jinja").read_text())
    (checkpoint / "chat_template.jinja").write_text(template)

    from transformers import AutoTokenizer

    from genrm.export.checkpoint import export_run

    out = export_run(tmp_path / "run", tmp_path / "export")
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    text = AutoTokenizer.from_pretrained(out).apply_chat_template(conv, tokenize=False)
    assert text.startswith(f"Today Date: {chat.FIXED_DATE}\n")
