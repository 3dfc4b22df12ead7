import pytest

from genrm.config import ConfigError, load_config, parse_overrides, split_trainer_kwargs


def test_overrides_parse_values_and_nest():
    assert parse_overrides(["learning_rate=1e-6", "max_steps=3", "lora.r=8", "bf16=false", "name=x"]) == {
        "learning_rate": 1e-6, "max_steps": 3, "lora": {"r": 8}, "bf16": False, "name": "x"}
    with pytest.raises(ConfigError, match="not key=value"):
        parse_overrides(["oops"])


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("learning_rate: 2.0e-5\nlora:\n  r: 4\n  alpha: 8\n")
    cfg = load_config(path, ["lora.r=16"], defaults={"max_steps": 10})
    assert cfg == {"max_steps": 10, "learning_rate": 2e-5, "lora": {"r": 16, "alpha": 8}}


def test_unknown_trainer_key_is_named():
    from trl import RewardConfig

    trainer, own = split_trainer_kwargs(RewardConfig, {"learning_rate": 1e-6, "lora": {"r": 4}}, {"lora"})
    assert trainer == {"learning_rate": 1e-6} and own == {"lora": {"r": 4}}
    with pytest.raises(ConfigError, match="learning_rat.*did you mean learning_rate"):
        split_trainer_kwargs(RewardConfig, {"learning_rat": 1}, {"lora"})


def test_typed_config_finds_nested_keys_and_checks_types():
    from dataclasses import dataclass, field

    from genrm.config import EvalConfig, SamplingConfig, load_typed

    @dataclass
    class Run:
        steps: int = 1
        rate: float | None = None
        sampling: SamplingConfig = field(default_factory=SamplingConfig)
        eval: EvalConfig = field(default_factory=EvalConfig)
        train: dict = field(default_factory=dict)

    run = load_typed(Run, {"steps": 3, "rate": 1, "sampling": {"max_new_tokens": 16}, "train": {"anything": 1}})
    assert run.steps == 3 and run.rate == 1 and run.sampling.max_new_tokens == 16 and run.eval.votes == 8
    assert run.train == {"anything": 1}
    for bad, words in [({"max_new_tokens": 16}, "did you mean sampling.max_new_tokens, eval.max_new_tokens"),
                       ({"sampling": {"temprature": 1.0}}, "unknown config key 'sampling.temprature' (did you mean sampling.temperature"),
                       ({"steps": "3"}, "'steps' must be int"), ({"steps": True}, "'steps' must be int"),
                       ({"rate": "fast"}, "'rate' must be float | None"), ({"sampling": 4}, "'sampling' must be a mapping")]:
        with pytest.raises(ConfigError) as err:
            load_typed(Run, bad)
        assert words in str(err.value), (bad, str(err.value))
