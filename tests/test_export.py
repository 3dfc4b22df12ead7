"""Export -> reload: identical scores through genrm.load_judge; plain transformers loading (the
text-classification pipeline for BT, AutoModelForCausalLM for GenRM); judge card and model card."""
from __future__ import annotations

import json

import pytest
import torch
from test_train import make_pairs, save_judge_tiny, write_jsonl


@pytest.fixture(scope="module")
def judge_tiny(tmp_path_factory):
    return save_judge_tiny(tmp_path_factory.mktemp("judge-tiny-export"))


@pytest.mark.parametrize("method", ["bt", "genrm"])
def test_export_reload_identical(method, judge_tiny, tmp_path):
    from genrm import load_judge
    from genrm.cli import main

    data = write_jsonl(tmp_path / "train.jsonl", make_pairs(8))
    run, out = tmp_path / "run", tmp_path / "export"
    assert main(["train", method, "--model", str(judge_tiny), "--data", str(data), "--out", str(run),
                 "--eval-data", str(data), "max_steps=2", "learning_rate=1e-3", "disable_tqdm=true"]) == 0
    assert main(["export", str(run), "--out", str(out)]) == 0

    pairs = make_pairs(8)
    from_run, from_checkpoint, exported = (load_judge(str(p)).judge(pairs) for p in (run, run / "checkpoint", out))
    assert [j.to_dict() for j in exported] == [j.to_dict() for j in from_run] == [j.to_dict() for j in from_checkpoint]

    card = json.loads((out / "genrm_judge.json").read_text())
    assert card["kind"] == method and card["base_model"] == str(judge_tiny)
    assert card["data"]["train"]["pairs"] == 8 and card["data"]["train"]["files"] == [str(data)]
    assert card["eval"]["n"] == 8 and "position_policy" in card and card["run_config"]["config"]["max_steps"] == 2
    readme = (out / "README.md").read_text()
    for section in ("## Training data", "## Hyperparameters", "## Evaluation", "Held-out accuracy", "| max_steps | 2 |"):
        assert section in readme
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()

    if method == "bt":
        from transformers import AutoModelForSequenceClassification, pipeline

        assert AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 1
        rm = pipeline("text-classification", model=str(out), function_to_apply="none")
        texts = [rm.tokenizer.apply_chat_template(p.prompt + p.chosen, tokenize=False) for p in pairs]
        scores = [r["score"] for r in rm(texts, batch_size=1)]
        assert scores == pytest.approx([j.score_chosen for j in exported], abs=1e-4)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(out)
        assert card["indicators"] == ["A", "B"] and card["template"] == "indicator" and card["both_orders"]
        assert isinstance(model.lm_head.weight, torch.Tensor)


def test_export_errors(tmp_path, capsys):
    from genrm.cli import main

    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x")]) == 1
    assert "no trained checkpoint here" in capsys.readouterr().out


@pytest.fixture(scope="module")
def genrm_export(judge_tiny, tmp_path_factory):
    """A GenRM run trained 2 steps and evaluated on two subsets, exported."""
    from genrm.cli import main

    tmp = tmp_path_factory.mktemp("card")
    data = write_jsonl(tmp / "train.jsonl", make_pairs(8))
    held_out = tmp / "held_out.jsonl"
    held_out.write_text("".join(json.dumps({"prompt": p.prompt[0]["content"], "chosen": p.chosen_text,
                                            "rejected": p.rejected_text, "subset": "fruit" if i < 6 else "colour"}) + "\n"
                                for i, p in enumerate(make_pairs(10))))
    run, out = tmp / "run", tmp / "export"
    assert main(["train", "genrm", "--model", str(judge_tiny), "--data", str(data), "--eval-data", str(held_out),
                 "--out", str(run), "max_steps=2", "learning_rate=1e-3", "disable_tqdm=true"]) == 0
    assert main(["export", str(run), "--out", str(out)]) == 0
    return run, out, data, held_out


def test_model_card_states_judge_data_and_evaluation(genrm_export):
    run, out, data, held_out = genrm_export
    readme = (out / "README.md").read_text()
    results = json.loads((run / "eval" / "results.json").read_text())
    card = json.loads((out / "genrm_judge.json").read_text())
    assert set(card["eval"]["subsets"]) == {"fruit", "colour"} and card["eval"]["data"] == str(held_out)
    for text in ("pipeline_tag: text-generation", "**Judge kind**: `genrm`", "**Template**: `indicator`",
                 "**Indicator tokens**: `A` = the first response is better, `B` = the second",
                 f"**Position policy**: {card['position_policy']}", "[The Start of Assistant A's Answer]",
                 f"training pairs: 8 from `{data}`", f"held-out pairs: 10 from `{held_out}`",
                 f"Held-out accuracy on `{held_out}`"):
        assert text in readme, text
    for name, n in (("all", 10), ("fruit", 6), ("colour", 4)):
        s = results["pooled"] if name == "all" else results["subsets"][name]
        assert s["n"] == n
        row = f"| {name} | {n} | {s['accuracy']:.3f} | {s['ci95'][0]:.3f}-{s['ci95'][1]:.3f} | {s['length_baseline']:.3f} |"
        assert row in readme, row


def test_model_card_of_a_bt_judge_and_hub_metadata():
    from genrm.export.model_card import model_card

    card = {"kind": "bt", "position_policy": "pointwise", "base_model": "meta-llama/Llama-3.1-8B-Instruct",
            "run_config": {"data": "HuggingFaceH4/ultrafeedback_binarized", "data_split": "train_prefs", "train_pairs": 100,
                           "config": {"learning_rate": 1e-6}}}
    readme = model_card(card)
    for text in ("base_model: meta-llama/Llama-3.1-8B-Instruct", "- HuggingFaceH4/ultrafeedback_binarized",
                 "pipeline_tag: text-classification", "**Judge kind**: `bt`", "**Template**: none",
                 "**Indicator tokens**: none", ("training pairs: 100 from `HuggingFaceH4/ultrafeedback_binarized` "
                 "(split `train_prefs`)"), "| learning_rate | 1e-06 |", "No held-out evaluation was run"):
        assert text in readme, text


class FakeHub:
    """huggingface_hub.HfApi's create_repo and upload_folder, recording calls and copying the folder."""

    def __init__(self, root, fail=None):
        self.root, self.fail, self.calls = root, fail, []

    def install(self, monkeypatch):
        import huggingface_hub

        hub = self

        def create_repo(api, repo_id, **kwargs):
            hub.calls.append(("create_repo", repo_id, api.token, kwargs))
            if hub.fail:
                raise hub.fail

        def upload_folder(api, *, repo_id, folder_path, **kwargs):
            import shutil
            from types import SimpleNamespace

            hub.calls.append(("upload_folder", repo_id, api.token, kwargs))
            shutil.copytree(folder_path, hub.root / repo_id, dirs_exist_ok=True)
            return SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/abc")

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)


def test_push_to_hub_uploads_the_export(genrm_export, tmp_path, monkeypatch, capsys):
    from genrm.cli import main

    run, _, _, _ = genrm_export
    hub = FakeHub(tmp_path / "hub")
    hub.install(monkeypatch)
    out = tmp_path / "export"
    assert main(["export", str(run), "--out", str(out), "--push-to-hub", "me/tiny-genrm", "--private",
                 "--token", "hf_test"]) == 0
    assert [c[:3] for c in hub.calls] == [("create_repo", "me/tiny-genrm", "hf_test"), ("upload_folder", "me/tiny-genrm", "hf_test")]
    assert hub.calls[0][3] == {"repo_type": "model", "private": True, "exist_ok": True}
    assert hub.calls[1][3]["repo_type"] == "model"
    uploaded = hub.root / "me" / "tiny-genrm"
    assert {"model.safetensors", "config.json", "tokenizer.json", "genrm_judge.json", "README.md"} <= {
        p.name for p in uploaded.iterdir()}
    for name in ("README.md", "genrm_judge.json"):
        assert (uploaded / name).read_text() == (out / name).read_text()
    assert "https://huggingface.co/me/tiny-genrm/commit/abc" in capsys.readouterr().out


def test_push_to_hub_failures_are_reported(genrm_export, tmp_path, monkeypatch, capsys):
    from huggingface_hub.errors import OfflineModeIsEnabled

    from genrm.cli import main

    run, _, _, _ = genrm_export
    FakeHub(tmp_path / "hub", fail=OfflineModeIsEnabled("offline mode is enabled")).install(monkeypatch)
    assert main(["export", str(run), "--out", str(tmp_path / "e"), "--push-to-hub", "me/x"]) == 1
    text = capsys.readouterr().out
    assert "push to me/x failed: offline mode is enabled" in text and "Traceback" not in text
    assert (tmp_path / "e" / "README.md").is_file()  # the local export stays
    assert main(["export", str(run), "--out", str(tmp_path / "f"), "--private"]) == 1
