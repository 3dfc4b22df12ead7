"""What a user sees: `genrm train` / `genrm eval` print progress and a results table, library noise
goes to the run's genrm.log (--verbose brings it back), and CoT evaluation options are set from the
command line and recorded in results.json."""
from __future__ import annotations

import json

import pytest
from test_train import make_pairs, save_judge_tiny, write_jsonl

from genrm.cli import main

NOISE = ("LOAD REPORT", "FutureWarning", "UserWarning", "{'loss'", "Loading weights", "deprecated")


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    return save_judge_tiny(tmp_path_factory.mktemp("judge-terminal"))


def test_train_prints_progress_and_a_table_and_logs_the_rest(judge_dir, tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("GENRM_VERBOSE", raising=False)
    data = write_jsonl(tmp_path / "train.jsonl", make_pairs(8))
    run = tmp_path / "bt"
    assert main(["train", "bt", "--model", str(judge_dir), "--data", str(data), "--out", str(run), "--eval-data",
                 str(data), "max_steps=3", "logging_steps=1", "learning_rate=1e-3"]) == 0
    out, err = capfd.readouterr()
    shown = out + err
    assert not [word for word in NOISE if word in shown], shown
    assert "training" in err and "loss=" in err  # one progress bar, with the loss
    assert "genrm train bt" in out and "held-out accuracy" in out  # the results table, last
    log = (run / "genrm.log").read_text()
    assert "trainer step 1: {" in log and "'loss'" in log  # the raw log dicts, in the file


def test_verbose_brings_the_raw_logs_back(judge_dir, tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("GENRM_VERBOSE", raising=False)
    data = write_jsonl(tmp_path / "train.jsonl", make_pairs(8))
    assert main(["--verbose", "train", "bt", "--model", str(judge_dir), "--data", str(data), "--out",
                 str(tmp_path / "v"), "max_steps=2", "logging_steps=1"]) == 0
    out, err = capfd.readouterr()
    assert "'loss'" in out + err


def test_current_argument_names_raise_no_deprecation(judge_dir, tmp_path, recwarn):
    from trl import RewardConfig

    from genrm.train.common import make_args

    args, _ = make_args(RewardConfig, {"gradient_checkpointing": False}, tmp_path)
    assert args.activation_checkpointing is False and not args.dataloader_pin_memory
    assert not [w for w in recwarn if "deprecated" in str(w.message)]
    args, _ = make_args(RewardConfig, {}, tmp_path)
    assert args.activation_checkpointing is True  # TRL's default kept, under the current name


def test_eval_cot_options_from_the_cli_are_recorded(tiny_model_dir, tmp_path, capsys):
    data = write_jsonl(tmp_path / "pairs.jsonl", make_pairs(2))
    out = tmp_path / "cot"
    assert main(["eval", "--bench", f"file:{data}", "--model", str(tiny_model_dir), "--judge", "cot", "--out", str(out),
                 "--votes", "1", "--backend", "hf", "--dtype", "float32", "--temperature", "0.7", "--top-p", "0.9",
                 "--max-new-tokens", "4"]) == 0
    options = json.loads((out / "results.json").read_text())["options"]
    assert options["temperature"] == 0.7 and options["top_p"] == 0.9 and options["max_new_tokens"] == 4
    assert options["backend"] == "hf" and options["dtype"] == "float32" and options["votes"] == 1
    header = json.loads((out / "judgments.jsonl").read_text().splitlines()[0])
    assert "HFGenerator" in json.dumps(header) and "float32" in json.dumps(header)
    capsys.readouterr()
    assert main(["eval", "--bench", f"file:{data}", "--model", str(tiny_model_dir), "--judge", "cot",
                 "--tensor-parallel-size", "2"]) == 1
    assert "tensor_parallel_size needs backend vllm" in capsys.readouterr().out
    assert main(["eval", "--bench", f"file:{data}", "--model", str(tiny_model_dir), "--judge", "bt",
                 "--temperature", "0.5"]) == 1
    assert "temperature applies to CoT judges" in capsys.readouterr().out
