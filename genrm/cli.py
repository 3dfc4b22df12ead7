"""The `genrm` command line. Subcommands live in genrm/commands/ and are imported only when run."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module, one-line help); a module that is not present is not offered
COMMANDS = {
    "data": ("genrm.commands.data", "check preference data: genrm data validate PATH [--skip-invalid]"),
    "train": ("genrm.commands.train", "train a judge: genrm train bt|genrm --model M --data D --out RUN"),
    "eval": ("genrm.commands.eval", "evaluate a judge: genrm eval --bench rewardbench --model M"),
    "star": ("genrm.commands.star", "STaR loops for CoT judges: genrm star --method sft|rationalize|dpo"),
    "export": ("genrm.commands.export", "export a trained run as a HF checkpoint + judge card"),
    "bon": ("genrm.commands.bon", "best-of-N sampling ranked by a judge"),
    "rs": ("genrm.commands.rs", "statistical rejection sampling with a judge"),
    "raft": ("genrm.commands.raft", "reward-ranked fine-tuning (sample, rank, SFT, repeat)"),
    "serve": ("genrm.commands.serve", "serve a judge over HTTP, batching concurrent requests (OpenRLHF remote RM)"),
    "demo": ("genrm.commands.demo", "the paper's comparison in miniature on the embedded default model"),
}


def build_parser() -> argparse.ArgumentParser:
    from genrm import __version__

    parser = argparse.ArgumentParser(prog="genrm", description="Train and evaluate generative reward models.")
    parser.add_argument("--version", action="version", version=f"genrm {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show library logs, warnings and progress bars (by default they go to the run's genrm.log)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if importlib.util.find_spec(module) is None:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    import os

    from genrm.distributed import check_launch

    if args.verbose:
        os.environ["GENRM_VERBOSE"] = "1"
    if not _has_cuda():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # DeepSpeed, when installed, says so on every run otherwise
    if warning := check_launch():
        print(warning, file=sys.stderr)
    try:
        return importlib.import_module(args._module).run(args) or 0
    finally:
        close_process_group()


def close_process_group() -> None:
    """Under a launcher, tear this process's process group down before the interpreter exits
    (a gloo group left to interpreter shutdown sometimes aborts a process on exit)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    sys.exit(main())
