"""genrm export RUN --out DIR [--push-to-hub REPO [--private] [--token TOKEN]]

Writes a plain HF checkpoint (safetensors + tokenizer), genrm_judge.json and a README model card;
with --push-to-hub, uploads DIR to the hub model repo REPO (created if missing) with huggingface_hub.
"""
from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("run", help="run directory written by `genrm train` (or its checkpoint directory)")
    parser.add_argument("--out", required=True, help="export directory (replaced)")
    parser.add_argument("--push-to-hub", metavar="REPO", default=None,
                        help="upload the export to this hub model repo (user/name or org/name), created if missing")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    parser.add_argument("--token", default=None,
                        help="hub token for --push-to-hub (default: HF_TOKEN or the `hf auth login` token)")


def run(args) -> int:
    import json

    from rich.console import Console

    from genrm.export.checkpoint import export_run, push_to_hub

    console = Console()
    if args.private and not args.push_to_hub:
        console.print("[red]error:[/red] --private applies to --push-to-hub REPO", highlight=False)
        return 1
    try:
        out = export_run(args.run, args.out)
    except (FileNotFoundError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    card = json.loads((out / "genrm_judge.json").read_text())
    console.print(f"exported {card['kind']} judge to {out} (load with genrm.load_judge('{out}'))", highlight=False, soft_wrap=True)
    if args.push_to_hub:
        try:
            url = push_to_hub(out, args.push_to_hub, private=args.private, token=args.token)
        except (OSError, ValueError) as err:  # huggingface_hub's HTTP, offline, token and repo-id errors
            console.print(f"[red]error:[/red] push to {args.push_to_hub} failed: {err}", highlight=False, soft_wrap=True)
            return 1
        console.print(f"pushed {out} to {args.push_to_hub}: {url}", highlight=False, soft_wrap=True)
    return 0
