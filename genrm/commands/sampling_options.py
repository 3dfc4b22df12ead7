"""Arguments shared by the sampling commands (`genrm bon`, `genrm rs`); not a command itself."""
from __future__ import annotations

from pathlib import Path


def add_arguments(parser, what: str) -> None:
    parser.add_argument("--policy", required=True, help="policy model: HF id, local checkpoint or smollm2-135m")
    parser.add_argument("--judge", required=True, help="judge: anything genrm.load_judge accepts")
    parser.add_argument("--prompts", required=True, help="JSON lines with a `prompt` field (string or message list)")
    parser.add_argument("--n", type=int, required=True, help=f"{what} sampled per prompt")
    parser.add_argument("--out", required=True, help="output JSON-lines file (one row per prompt)")
    parser.add_argument("--resume", action="store_true", help="keep rows already in --out and do only the rest")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="options of genrm.bon.BonConfig, e.g. ranking=round_robin sampling.temperature=0.7 beta=0.5")


def config(args):
    """The BonConfig of the command line (unknown keys fail with a suggestion)."""
    from genrm.bon import BonConfig
    from genrm.config import ConfigError, load_config, load_typed

    loaded = load_typed(BonConfig, load_config(None, args.overrides))
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    return loaded


def summary_path(out: str) -> Path:
    path = Path(out)
    return path.with_name(path.stem + ".summary.json")
