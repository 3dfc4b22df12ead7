"""Arguments shared by the sampling commands (`genrm bon`, `genrm rs`); not a command itself."""
from __future__ import annotations

from pathlib import Path

FLAGS = ("policy", "judge", "prompts", "n")  # options that override the recipe's keys of the same name


def add_arguments(parser, what: str) -> None:
    parser.add_argument("--config", default=None, help="YAML recipe of genrm.policy.bon.BonConfig keys; options and key=value override it")
    parser.add_argument("--policy", default=None, help="policy model: HF id, local checkpoint or smollm2-135m (default)")
    parser.add_argument("--judge", default=None, help="judge: anything genrm.load_judge accepts (or `judge:` in the recipe)")
    parser.add_argument("--prompts", default=None, help="JSON lines with a `prompt` field (string or message list)")
    parser.add_argument("--n", type=int, default=None, help=f"{what} sampled per prompt")
    parser.add_argument("--out", required=True, help="output JSON-lines file (one row per prompt)")
    parser.add_argument("--resume", action="store_true", help="keep rows already in --out and do only the rest")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="options of genrm.policy.bon.BonConfig, e.g. ranking=round_robin sampling.temperature=0.7 beta=0.5")


def resolve(args):
    """The BonConfig of the recipe, its key=value overrides and the command-line options (unknown
    keys fail with a suggestion; judge, prompts and n are required)."""
    from genrm.config import ConfigError, load_config, load_typed
    from genrm.policy.bon import BonConfig

    config = load_config(args.config, args.overrides)
    config.update({key: getattr(args, key) for key in FLAGS if getattr(args, key) is not None})
    loaded = load_typed(BonConfig, config)
    for key in ("judge", "prompts", "n"):
        if getattr(loaded, key) is None:
            raise ConfigError(f"{args.command} needs '{key}': pass --{key} or set it in the recipe")
    if loaded.n < 1:
        raise ConfigError(f"n must be at least 1, got {loaded.n}")
    return loaded


def summary_path(out: str) -> Path:
    path = Path(out)
    return path.with_name(path.stem + ".summary.json")
