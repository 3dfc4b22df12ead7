import json

import pytest

from genrm.config import ConfigError
from genrm.data.synth import make_pairs
from genrm.demo import ROWS, SPLITS, STEPS, load_results, markdown, run_demo, settings
from genrm.demo.settings import CLAIMS_SET
from genrm.runs import RunDir


@pytest.fixture(scope="module")
def demo_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    run_demo(out, model=str(tiny_model_dir), size="tiny")
    return out


def test_demo_writes_a_row_for_every_method(demo_dir):
    results = load_results(demo_dir)
    assert list(results["methods"]) == list(ROWS)
    for name in ROWS:
        m = results["methods"][name]
        assert m["status"] == "done", (name, m)
        for split in SPLITS:
            score = m[split]
            assert score.n == 8 and score.pooled.n == 8
            assert 0.0 <= score.ci95[0] <= score.accuracy <= score.ci95[1] <= 1.0
            assert (demo_dir / STEPS[name] / split / "results.json").exists() or name.startswith("STaR")
    # the same pairs for every method: the paired tests need that
    keys = {name: [e["key"] for e in m["test"].examples] for name, m in results["methods"].items()}
    assert len({tuple(sorted(k)) for k in keys.values()}) == 1
    report = (demo_dir / "report.md").read_text()
    for name in ROWS:
        assert f"| {name} |" in report
    assert "Paired tests on test" in report and "## Claims (fixed" in report and "Per family on OOD" in report
    assert "adversarial twin" in report  # each family never trained on states its relation
    assert (demo_dir / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (demo_dir / "data" / "train.jsonl").exists()
    star = results["methods"]["STaR-DPO"]["star"]
    metrics = json.loads((demo_dir / STEPS["STaR-DPO"] / "metrics.json").read_text())
    # iteration 0 of the STaR curve is the zero-shot CoT row, computed once
    assert metrics["baseline"]["test"]["accuracy"] == results["methods"]["zero-shot CoT"]["test"].accuracy
    assert not (demo_dir / STEPS["STaR-DPO"] / "iter-0").exists() and star["iterations"]
    (rationalized,) = results["methods"]["STaR-Rationalizer"]["star"]["iterations"]
    assert rationalized["hinted_samples"] == rationalized["unsolved_prompts"] > 0  # hints for prompts with no correct sample


def test_rows_pick_the_methods(tiny_model_dir, tmp_path):
    from genrm.demo import chosen_rows

    assert chosen_rows(settings("default")) == [r for r in ROWS if r not in ("STaR-Rationalizer", "STaR-GRPO")]  # for time
    assert chosen_rows(settings("medium")) == list(ROWS)
    with pytest.raises(ValueError, match="rows: unknown method"):
        settings("tiny", {"rows": ["GenRM", "STaR-Magic"]})
    results = run_demo(tmp_path / "run", model=str(tiny_model_dir), size="tiny", overrides={"rows": ["zero-shot", "length baseline"]})
    assert list(results["methods"]) == ["length baseline", "zero-shot"]  # in table order


def test_rerun_resumes_without_redoing_finished_methods(demo_dir, tiny_model_dir, monkeypatch):
    from genrm import demo

    before = json.loads((demo_dir / "results.json").read_text())
    # forget one method: only that one may run again
    run = RunDir(demo_dir)
    ledger = run.ledger()
    del ledger[STEPS["GenRM"]]
    (demo_dir / "ledger.json").write_text(json.dumps(ledger))
    calls = []
    for row, fn in list(demo.METHODS.items()):
        monkeypatch.setitem(demo.METHODS, row, lambda *a, _fn=fn, _row=row: calls.append(_row) or _fn(*a))
    after = run_demo(demo_dir, model=str(tiny_model_dir), size="tiny")
    assert calls == ["GenRM"]  # the checkpoint and the journals on disk are reused: nothing is judged again
    assert after["methods"]["BT"]["test"].to_dict() == before["methods"]["BT"]["test"]
    assert after["methods"]["GenRM"]["test"].accuracy == before["methods"]["GenRM"]["test"]["pooled"]["accuracy"]
    assert after["methods"]["GenRM"]["test"].resumed_judgments == 8


def test_rerun_with_another_configuration_is_refused(demo_dir, tiny_model_dir):
    with pytest.raises(ValueError, match="another configuration"):
        run_demo(demo_dir, model=str(tiny_model_dir), size="tiny", overrides={"bt": {"max_steps": 3}})


def test_missing_module_is_reported_not_faked(tiny_model_dir, tmp_path, monkeypatch):
    from genrm import demo

    def missing(*args):
        raise demo.MethodUnavailable("not available (module genrm.train.bt missing)")

    monkeypatch.setitem(demo.METHODS, "BT", missing)
    run = RunDir(tmp_path)
    cfg = settings("tiny")
    data = make_pairs({"train": cfg.n_train, "test": cfg.n_test, "ood": cfg.n_ood, "twin": cfg.n_twin})
    results = demo.run_methods(run, str(tiny_model_dir), data, cfg, rows=("length baseline", "BT"))
    assert results["BT"] == {"status": "not available", "reason": "not available (module genrm.train.bt missing)"}
    assert not run.is_done(STEPS["BT"])
    text = markdown({"model": "m", "size": "tiny", "seed": 0, "data": {}, "methods": results}, "t")
    assert "- BT: not available (module genrm.train.bt missing)" in text


def test_settings_are_typed_and_checked():
    cfg = settings("tiny", {"genrm": {"max_steps": 5}, "eval": {"votes": 3}})
    assert cfg.genrm["max_steps"] == 5 and cfg.eval.votes == 3 and cfg.n_test == 8
    with pytest.raises(ConfigError, match="unknown config key 'no_such_key'"):
        settings("tiny", {"no_such_key": 1})
    with pytest.raises(ConfigError, match="did you mean eval.votes"):
        settings("tiny", {"votes": 3})


def test_star_rows_take_their_own_trainer_settings():
    from genrm.demo import star_config

    cfg = settings("tiny", {"star": {"samples": 3}, "star_sft": {"train": {"learning_rate": 0.5}},
                            "star_dpo": {"train": {"beta": 0.25}}})
    sft, dpo = star_config("sft", cfg), star_config("dpo", cfg)
    assert sft["samples"] == dpo["samples"] == 3
    assert sft["train"]["learning_rate"] == 0.5 and "beta" not in sft["train"]
    assert dpo["train"]["beta"] == 0.25 and dpo["train"]["learning_rate"] == cfg.star["train"]["learning_rate"]
    assert settings("default").genrm["cache_frozen_layers"] and star_config("dpo", settings("default"))["train"][
        "cache_frozen_layers"]
    assert star_config("dpo", settings("default"))["balance"] == star_config("sft", settings("default"))["balance"] == "pair"


def test_cli_prints_the_table_last(demo_dir, tiny_model_dir, capsys):
    from genrm.cli import main

    assert main(["demo", "--quick", "--model", str(tiny_model_dir), "--out", str(demo_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("length baseline", "zero-shot CoT", "BT", "GenRM", "STaR-SFT", "STaR-DPO"):
        assert name in out
    assert "results.json" in out and "tested on prompts" in out
    assert out.strip().splitlines()[-1].startswith(f"claims fixed {CLAIMS_SET}, tested on prompts:")


def test_star_row_trains_and_scores_when_samples_have_verdicts(tiny_model_dir, tmp_path):
    """The tiny random model never writes a verdict; seed the sample file (as a killed run would
    have left it) with one right and one wrong rationale per judge prompt so the training path
    runs (DPO needs both; STaR-SFT trains through the same train_sft as GenRM)."""
    row = "STaR-DPO"
    from genrm import demo
    from genrm.star.samples import mark

    cfg = settings("tiny", {"star": {"samples": 2, "max_train_pairs": 8}})
    data = make_pairs({"train": cfg.n_train, "test": cfg.n_test, "ood": cfg.n_ood, "twin": cfg.n_twin})
    work = tmp_path / demo.STEPS[row]
    rows = [mark(p.id, order, index, f"Assistant {letter} follows the instruction. [[{letter}]]", 8, True)
            for p in data["train"] for order in ("chosen_first", "chosen_second")
            for index, letter in enumerate(("A", "B") if order == "chosen_first" else ("B", "A"))]
    (work / "iter-1").mkdir(parents=True)
    (work / "iter-1" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = demo.METHODS[row](str(tiny_model_dir), data, work, cfg, {})
    (it,) = result["star"]["iterations"]
    assert "skipped_training" not in it and it["dpo_pairs"] == 16  # trained, not the base model
    assert it["positions"]["after"] == {"chosen_first": 8, "chosen_second": 8}
    assert (work / "iter-1" / "train" / "checkpoint" / "config.json").exists()
    assert result["star"]["checkpoint"].endswith("checkpoint")
    assert result["test"].n == 8 and result["ood"].n == 8


def test_seeds_report_mean_sd_and_every_seed(tiny_model_dir, tmp_path, capsys):
    from genrm.cli import main

    rows = 'rows=["length baseline", "zero-shot", "BT"]'  # BT: the claim BT > zero-shot is tested
    assert main(["demo", "--quick", "--model", str(tiny_model_dir), "--out", str(tmp_path), "--seeds", "0,1",
                 "--set", rows]) == 0
    summary = json.loads((tmp_path / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["claims_set"] == CLAIMS_SET
    cell = summary["accuracy"]["zero-shot"]["test"]
    per_seed = [load_results(tmp_path / f"seed-{s}")["methods"]["zero-shot"]["test"].accuracy * 100 for s in (0, 1)]
    assert list(cell["per_seed"].values()) == pytest.approx(per_seed)
    assert cell["mean"] == pytest.approx(sum(per_seed) / 2)
    # each seed its own data, and within a seed no prompt in two splits
    assert (tmp_path / "seed-0/data/test.jsonl").read_text() != (tmp_path / "seed-1/data/test.jsonl").read_text()
    report = (tmp_path / "seeds.md").read_text()
    assert "## Per seed" in report and "±" in report and "all 2 seeds pooled" in report
    assert summary["pooled"] and all(r["prompts"] > 0 for r in summary["pooled"])
    assert "±" in capsys.readouterr().out
    assert main(["demo", "--quick", "--out", str(tmp_path), "--seed", "0", "--seeds", "0,1"]) == 1


def test_paper_table_runs_each_part_at_several_seeds(tiny_model_dir, tmp_path):
    """benchmarks/paper_table.py --seeds: one run per seed, then mean ± sd and the pooled claims."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_table.py"
    spec = importlib.util.spec_from_file_location("paper_table", path)
    paper_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(paper_table)
    rows = 'rows=["length baseline", "zero-shot", "BT"]'
    assert paper_table.main(["--quick", "--which", "builtin", "--model", str(tiny_model_dir), "--out", str(tmp_path),
                             "--seeds", "0,1", "--set", rows]) == 0
    summary = json.loads((tmp_path / "builtin/seeds.json").read_text())
    assert summary["seeds"] == [0, 1] and set(summary["accuracy"]) == {"length baseline", "zero-shot", "BT"}
    assert all((tmp_path / f"builtin/seed-{s}/results.json").exists() for s in (0, 1))
    assert [r["claim"] for r in summary["pooled"]][:1] == ["BT > zero-shot"]
    assert "± " in (tmp_path / "paper_table.md").read_text()
