"""Every recipe is checked without running it: its first line is the command that runs it (parsed by
genrm's own argument parser, so the subcommand and every option must exist), and the command's own
`resolve(args)` (the code `run` uses) accepts every key of the recipe: typed configs, TRL config
classes, genrm's trainer keys. A key with a typo anywhere fails, and the README lists every recipe
with its command."""
from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest
import yaml

from genrm.cli import build_parser
from genrm.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
LAUNCHER_CONFIGS = sorted((ROOT / "recipes" / "accelerate").glob("*.yaml"))
FREE_FORM = {"benches"}  # mappings whose keys are names the user picks, not settings


def command(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# "), f"{path.name}: the first line must be a comment with the command that runs it"
    return first[2:].strip()


def genrm_argv(path: Path) -> list[str]:
    """The genrm arguments of the recipe's command: `genrm ...` or `accelerate launch ... -m genrm ...`."""
    words = shlex.split(command(path))
    if words[0] == "genrm":
        return words[1:]
    assert words[:2] == ["accelerate", "launch"] and "-m" in words, f"{path.name}: not a genrm command: {words}"
    at = words.index("-m")
    assert words[at + 1] in ("genrm", "genrm.cli"), f"{path.name}: launches {words[at + 1]}, not genrm"
    if "--config_file" in words[:at]:
        launcher = ROOT / words[words.index("--config_file") + 1]
        assert launcher.is_file(), f"{path.name}: {launcher} does not exist"
    return words[at + 2:]


def parse(path: Path):
    try:
        return build_parser().parse_args(genrm_argv(path))
    except SystemExit:
        pytest.fail(f"{path.name}: genrm cannot parse its command line: {command(path)}")


def resolve(args):
    module = importlib.import_module(args._module)
    assert hasattr(module, "resolve"), f"`genrm {args.command}` takes no recipe"
    return module.resolve(args)


def typos(config: dict):
    """(description, config) for one misspelt key at the top and one inside each section."""
    for key, value in config.items():
        yield key + "x", {**config, key + "x": value}
        if isinstance(value, dict) and key not in FREE_FORM:
            for sub, inner in value.items():
                yield f"{key}.{sub}x", {**config, key: {**value, sub + "x": inner}}


def test_there_are_recipes_for_every_method():
    names = {p.name for p in RECIPES}
    for method in ("bt", "genrm", "eval-zeroshot", "eval-cot", "bon", "raft"):
        assert {f"{method}-tiny.yaml", f"{method}-llama8b.yaml"} <= names, method
    assert "star-tiny.yaml" in names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_command_and_keys(path, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    args = parse(path)
    assert args.config == f"recipes/{path.name}", f"{path.name}: its command runs another recipe ({args.config})"
    resolve(args)  # every key accepted

    config = yaml.safe_load(path.read_text())
    assert isinstance(config, dict) and config, f"{path.name}: a recipe sets values"
    for where, bad in typos(config):
        copy = tmp_path / path.name
        copy.write_text(yaml.safe_dump(bad))
        args.config = str(copy)
        with pytest.raises(ConfigError, match="unknown config key"):
            resolve(args)
            pytest.fail(f"{path.name}: misspelt key {where!r} was accepted")


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS, ids=lambda p: p.name)
def test_launcher_config_opens_with_a_genrm_command(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    resolve(parse(path))


def test_paper_scale_recipes_say_how_they_scale():
    for path in RECIPES:
        if "llama8b" not in path.name:
            continue
        config = yaml.safe_load(path.read_text())
        text = yaml.safe_dump(config)
        assert "meta-llama/Llama-3.1-8B-Instruct" in text, path.name
        assert "bfloat16" in text or config.get("bf16") or (config.get("train") or {}).get("bf16"), path.name
        if path.name.startswith(("bt-", "genrm-")):
            assert command(path).startswith("accelerate launch --config_file recipes/accelerate/"), path.name


def test_readme_lists_every_recipe_with_its_command():
    readme = (ROOT / "README.md").read_text()
    for path in RECIPES:
        assert command(path) in readme, f"README lacks {path.name}'s command: {command(path)}"


def test_train_recipe_typo_names_the_key(monkeypatch, tmp_path):
    """What a user sees: the misspelt key and a suggestion, before any data or model is loaded."""
    monkeypatch.chdir(ROOT)
    recipe = tmp_path / "bt.yaml"
    recipe.write_text((ROOT / "recipes" / "bt-tiny.yaml").read_text() + "learnig_rate: 1.0e-4\nlora: {rr: 4}\n")
    args = build_parser().parse_args(["train", "bt", "--config", str(recipe), "--out", str(tmp_path / "run")])
    with pytest.raises(ConfigError, match="unknown config key 'learnig_rate'.*did you mean.*learning_rate"):
        resolve(args)
    recipe.write_text((ROOT / "recipes" / "bt-tiny.yaml").read_text() + "lora: {rr: 4}\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'lora\.rr'.*lora\.r\b"):
        resolve(args)
