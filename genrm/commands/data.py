"""genrm data validate PATH [--split S] [--skip-invalid]

Checks every row; prints pairs per subset. Exits 1 on any problem: without --skip-invalid at the
first bad row (file, row and field named), with it after listing every skipped row and the counts.
"""
from __future__ import annotations

from collections import Counter


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = sub.add_parser("validate", help="check a preference file, directory or hub dataset")
    v.add_argument("path", help="a .jsonl/.json/.parquet/.csv file, a directory of them, or a hub dataset id")
    v.add_argument("--split", default=None, help="split of a hub dataset or snapshot directory")
    v.add_argument("--skip-invalid", action="store_true", help="skip bad rows, count them and report at the end")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from genrm.data.pairs import DataError, load_pairs

    console = Console()
    try:
        pairs = load_pairs(args.path, split=args.split, skip_invalid=args.skip_invalid)
    except DataError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 1
    console.print(f"{args.path}: {len(pairs)} valid pairs", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("subset")
    table.add_column("pairs", justify="right")
    for subset, n in sorted(Counter(p.subset for p in pairs).items()):
        table.add_row(subset, str(n))
    console.print(table)
    if not pairs.skipped:
        return 0
    for err in pairs.skipped:
        console.print(f"skipped: {err}", highlight=False, soft_wrap=True)
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(pairs.skip_counts().items()))
    console.print(f"[yellow]{len(pairs.skipped)} invalid row(s) skipped[/yellow] ({counts})", highlight=False)
    return 1
