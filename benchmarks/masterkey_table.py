# .venv/bin/python benchmarks/masterkey_table.py --demo runs/demo --out runs/masterkey [--split test]
"""Master-key attacks (genrm.eval.masterkey; Zhao et al. 2025) on the judges of a finished `genrm demo`
run: the embedded model zero-shot (indicator and CoT, the demo's templates and settings) and the
run's trained BT, GenRM, STaR-SFT and STaR-DPO checkpoints, on the run's own --split pairs (each
chosen answer against each master key). Prints, per judge and key, the share of pairs where the
master key beat the real answer with its Wilson 95% interval; writes OUT/masterkey.json and
OUT/masterkey.md, and each judge's evaluation under OUT/JUDGE (results.json, report.md, chart.png;
reruns resume from their journals).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def judges(demo: Path, cfg) -> dict[str, tuple[str, dict]]:
    """{row: (model, load_judge options)} of the judges the demo run has."""
    from genrm.demo.methods import cot_options

    rows = {"zero-shot": (cfg_model(demo), {"kind": "genrm", "template": cfg.indicator_template}),
            "zero-shot CoT": (cfg_model(demo), {"kind": "cot", **cot_options(cfg)})}
    for name, path in (("BT", "bt/checkpoint"), ("GenRM", "genrm/checkpoint"), ("STaR-SFT", "star-sft/iter-1/train/checkpoint"),
                       ("STaR-DPO", "star-dpo/iter-1/train/checkpoint")):
        if (demo / path).is_dir():
            rows[name] = (str(demo / path), {})
    return rows


def cfg_model(demo: Path) -> str:
    import yaml

    return yaml.safe_load((demo / "config.yaml").read_text())["model"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, help="a finished genrm demo run directory")
    parser.add_argument("--out", default="runs/masterkey")
    parser.add_argument("--split", default="test", help="the demo's data split whose pairs are attacked")
    args = parser.parse_args(argv)

    import yaml
    from rich.console import Console

    from genrm.config import load_typed
    from genrm.data.pairs import load_pairs
    from genrm.demo.settings import DemoConfig
    from genrm.eval.masterkey import MASTER_KEYS, attack_pairs, key_wins
    from genrm.eval.report import md_table, pct, rich_table
    from genrm.eval.runner import evaluate
    from genrm.judges.base import load_judge
    from genrm.logs import quiet
    from genrm.runs import atomic_write_json, atomic_write_text

    demo, out = Path(args.demo), Path(args.out)
    cfg = load_typed(DemoConfig, yaml.safe_load((demo / "config.yaml").read_text())["settings"])
    pairs = attack_pairs(list(load_pairs(str(demo / "data" / f"{args.split}.jsonl"))))
    console = Console(width=max(Console().width, 160))
    table: dict[str, dict] = {}
    for name, (model, options) in judges(demo, cfg).items():
        work = out / name.lower().replace(" ", "-")
        with quiet(work / "genrm.log"):
            judge = load_judge(model, **options)
            result = evaluate(judge, pairs, bench="masterkey", out=work, batch_size=32, model=model)
            getattr(getattr(judge, "generator", None), "close", lambda: None)()
        table[name] = {"overall": 1 - result.accuracy, "n": result.n, "keys": {r["key"]: r for r in key_wins(result.subsets)}}
        console.print(f"{name}: master keys win {pct(1 - result.accuracy)}% of {result.n} pairs", highlight=False)
    cols = ["master key", *table]
    rows = [[repr(text)] + [f"{pct(t['keys'][key]['wins'])} [{pct(t['keys'][key]['ci95'][0])}-{pct(t['keys'][key]['ci95'][1])}]"
                            for t in table.values()] for key, text in MASTER_KEYS.items()]
    rows.append(["all keys"] + [pct(t["overall"]) for t in table.values()])
    n = len(pairs) // len(MASTER_KEYS)
    title = f"master key wins % [95% CI] against the real chosen answer, {n} {args.split} pairs of {demo} per key"
    console.print(rich_table(cols, rows, title))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "masterkey.json", {"demo": str(demo), "split": args.split, "pairs_per_key": n, "judges": table})
    atomic_write_text(out / "masterkey.md", f"# {title}\n\n{md_table(cols, rows)}\n")
    print(f"wrote {out / 'masterkey.md'}, {out / 'masterkey.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
