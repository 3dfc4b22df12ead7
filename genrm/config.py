"""Configuration: YAML files that only set values, dotted `key=value` overrides, and one typed
loader for every run config (STaR, RAFT, best-of-N, `genrm eval`, the run keys of `genrm train`, the
demo). Every recipe in recipes/ goes through them (tests/test_recipes.py: recipes/bt-tiny.yaml and the rest).

    load_config("recipes/star-tiny.yaml", ["train.learning_rate=1e-6", "lora.r=8"])  # -> dict
    load_typed(StarConfig, that_dict)                                                # -> StarConfig

Values are parsed as YAML scalars (`1e-6` -> float, `true` -> bool, `[1,2]` -> list). Run configs
are dataclasses whose sections are dataclasses too; they share `SamplingConfig` (how a policy or
judge samples) and `EvalConfig` (how a judge is run when it evaluates or ranks). `load_typed`
rejects unknown keys anywhere in the tree with a "did you mean" that searches every section
(`max_new_tokens=16` at the top suggests `sampling.max_new_tokens` and `eval.max_new_tokens`)
and checks value types. `split_trainer_kwargs(cls, config)` separates the keys a TRL config class
accepts from genrm's own, with the same suggestions.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    pass


@dataclasses.dataclass
class SamplingConfig:
    """How completions are sampled (STaR rationales, best-of-N / RAFT candidates). The paper:
    temperature 1.0, top-p 0.95. `batch_size` counts prompts per generate call."""

    backend: str = "hf"  # hf | vllm
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 256
    batch_size: int = 8
    dtype: str = "auto"
    tensor_parallel_size: int = 1  # vllm
    gpu_memory_utilization: float = 0.85  # vllm


@dataclasses.dataclass
class EvalConfig:
    """How a judge runs when it evaluates or ranks: `batch_size` pairs per judge call, and for
    CoT judges `votes` samples per order (adaptive stopping: judges/cot.py)."""

    batch_size: int = 8
    votes: int = 8
    adaptive: bool = True
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 256


def parse_value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads "1e-6" as a string
        try:
            return float(value)
        except ValueError:
            pass
    return value


def parse_overrides(items: list[str] | None) -> dict:
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is not a section")
        node[leaf] = parse_value(value.strip())
    return out


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, defaults: dict | None = None) -> dict:
    """defaults <- YAML file <- key=value overrides."""
    config = dict(defaults or {})
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{path}: cannot read config ({e})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config must be a mapping of keys to values")
        config = merge(config, loaded)
    return merge(config, parse_overrides(overrides))


# ---------------------------------------------------------------- typed configs


def suggest(key: str, paths: list[str]) -> str:
    """' (did you mean a, b?)' from dotted `paths`, matching `key` against whole paths and leaf names."""
    leaf = key.rsplit(".", 1)[-1]
    by_leaf: dict[str, list[str]] = {}
    for path in paths:
        by_leaf.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    near = [p for name in difflib.get_close_matches(leaf, sorted(by_leaf), n=3) for p in by_leaf[name]]
    near += [p for p in difflib.get_close_matches(key, paths, n=3) if p not in near]
    return f" (did you mean {', '.join(near[:4])}?)" if near else ""


def key_paths(cls, prefix: str = "") -> list[str]:
    """Every dotted key of the dataclass `cls` (sections included, their keys below them)."""
    out = []
    for name, hint in typing.get_type_hints(cls).items():
        out.append(prefix + name)
        if dataclasses.is_dataclass(hint):
            out += key_paths(hint, f"{prefix}{name}.")
    return out


def _check_type(value, hint, where: str) -> None:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for option in typing.get_args(hint) if union else (hint,):
        base = typing.get_origin(option) or option  # dict[str, Any] -> dict
        if option is Any or (option is type(None) and value is None):
            return
        if base in (int, float) and isinstance(value, bool):
            continue
        if isinstance(value, (int, float) if base is float else base):
            return
    raise ConfigError(f"'{where}' must be {hint if isinstance(hint, str) else getattr(hint, '__name__', hint)}, "
                      f"not {value!r}")


def load_typed(cls, values: dict | None, where: str = "", paths: list[str] | None = None):
    """An instance of the dataclass `cls` from a mapping: defaults for missing keys, sections
    loaded recursively, unknown keys and wrongly typed values raise ConfigError."""
    values = values or {}
    if not isinstance(values, dict):
        raise ConfigError(f"'{where.rstrip('.') or cls.__name__}' must be a mapping of keys to values")
    paths = paths if paths is not None else key_paths(cls)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"unknown config key '{where}{key}'{suggest(where + key, paths)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = load_typed(hint, value, f"{where}{key}.", paths)
        else:
            _check_type(value, hint, where + key)
            kwargs[key] = value
    return cls(**kwargs)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def split_trainer_kwargs(cls, config: dict, own_keys: set[str]) -> tuple[dict, dict]:
    """(kwargs for the dataclass `cls`, genrm's own keys). Unknown keys raise ConfigError."""
    fields = {f.name for f in dataclasses.fields(cls)}
    trainer, own = {}, {}
    for key, value in config.items():
        if key in own_keys:
            own[key] = value
        elif key in fields:
            trainer[key] = value
        else:
            raise ConfigError(f"unknown config key '{key}' for {cls.__name__}{suggest(key, sorted(fields | own_keys))}")
    return trainer, own
