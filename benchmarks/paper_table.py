# flock /tmp/genrm-heavy.lock .venv/bin/python benchmarks/paper_table.py --out runs/paper_table [--quick] [--which builtin,real] [--model smollm2-135m]
"""The paper's table at a configurable size: every method of genrm.demo on (a) the built-in data
and (b) real human-labelled data, in-distribution held-out vs out-of-distribution RewardBench.

(a) built-in: genrm.data.synth families, train / dev / test split by prompt, vs new families and
    adversarial twins never trained on, at --size.
(b) real: trains on the human-labelled pool in ../shared/data (autoj_pairwise, pandalm,
    mtbench_human_llmbar, llmeval2_llmbar, faireval_llmbar), dev and test split off by prompt (no
    prompt in two parts; `--set eval_split=dev` scores dev for tuning), and evaluates out of distribution on the partial RewardBench there (alpacaeval-*: Chat,
    xstest-*: Safety, hep-*: Reasoning), --per-subset pairs of each subset. On CPU, pairs longer than
    --max-chars characters (prompt + both responses) are left out; the table says how many.

STaR-GRPO (the CoT judge trained by RL, `genrm star --method grpo`) runs where --set rows names it (the
default size leaves it out for time; medium runs every row): its settings match STaR-SFT's budget
(the rationales STaR-SFT samples, about its optimizer steps; genrm/demo/settings.py), and each part's
report.md has a table of what every STaR row sampled (rationales, tokens) and its optimizer steps.

Every figure is accuracy % [Wilson 95% CI] with the length baseline ("pick the longer answer") on
the same pairs beside it. Writes OUT/paper_table.md (and each part's results.json, report.md,
accuracy.png and table.md under OUT/builtin and OUT/real); both parts resume through their ledgers.
`--set` applies to every part named in --which: to give the parts different sizes, run them one
--which at a time into the same OUT; paper_table.md always holds every part run so far.
`--seeds 0,1,2` runs each part once per data seed (OUT/PART/seed-N; for the real part the seed
draws the train / dev / test split and the RewardBench sample) and reports mean ± sd, the per-seed
table, each claim per seed and the claims over the prompts of all seeds pooled (genrm.demo.seeds).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN_FILES = ("autoj_pairwise", "pandalm", "mtbench_human_llmbar", "llmeval2_llmbar", "faireval_llmbar")
OOD_FILES = ("alpacaeval", "xstest", "humanevalpack")
SECTIONS = ("Chat", "Safety", "Reasoning")


def _size(pair) -> int:
    return sum(len(m["content"]) for m in pair.prompt) + len(pair.chosen_text) + len(pair.rejected_text)


def real_data(data_dir: Path, n_train: int, n_test: int, per_subset: int, max_chars: int, seed: int = 0,
              n_dev: int | None = None) -> dict:
    """{"train", "dev", "test", "ood"} PreferencePair lists plus "info" (counts and what was left
    out). Train, dev and test are split by prompt (no prompt in two of them); dev (as large as test
    unless n_dev says otherwise) is for choosing settings, test is reported."""
    from genrm.data.pairs import load_pairs
    from genrm.eval.runner import subsample

    pool, info = [], {"max_chars": max_chars, "left_out_too_long": {}}
    for name in TRAIN_FILES:
        pairs = list(load_pairs(data_dir / f"{name}.jsonl"))
        kept = [p for p in pairs if _size(p) <= max_chars]
        info["left_out_too_long"][name] = len(pairs) - len(kept)
        pool += kept
    by_prompt: dict[str, list] = {}
    for p in pool:
        by_prompt.setdefault(p.prompt_key, []).append(p)
    prompts = sorted(by_prompt)
    random.Random(seed).shuffle(prompts)
    wanted = {"test": n_test, "dev": n_test if n_dev is None else n_dev}
    parts: dict[str, list] = {"test": [], "dev": [], "train": []}
    for prompt in prompts:  # whole prompts go to one part: no prompt is in two of them
        part = next((k for k in ("test", "dev") if len(parts[k]) < wanted[k]), "train")
        parts[part].extend(by_prompt[prompt])
    random.Random(seed + 1).shuffle(parts["train"])
    ood = []
    for name in OOD_FILES:
        pairs = list(load_pairs(data_dir / f"{name}.jsonl"))
        kept = [p for p in pairs if _size(p) <= max_chars]
        info["left_out_too_long"][name] = len(pairs) - len(kept)
        ood += subsample(kept, per_subset, seed)
    info.update(pool=len(pool), train=min(n_train, len(parts["train"])), dev=len(parts["dev"]), test=len(parts["test"]),
                ood=len(ood))
    return {"train": parts["train"][:n_train], "dev": parts["dev"], "test": parts["test"], "ood": ood, "info": info}


def run_real(out: Path, model: str, size: str, overrides: dict, args, console) -> dict:
    from genrm.config import to_dict
    from genrm.demo import chosen_rows, run_methods, settings, write_outputs
    from genrm.logs import quiet
    from genrm.runs import RunDir

    s = settings(size, overrides)
    run = RunDir(out)
    config = {"model": model, "size": size, "settings": to_dict(s), "real": {"train": args.real_train,
              "test": args.real_test, "per_subset": args.per_subset, "max_chars": args.max_chars, "seed": args.seed}}
    if (run / "config.yaml").exists() and run.load_config() != config:
        raise SystemExit(f"{out} holds a run with another configuration; use another --out")
    run.save_config(config)
    data = real_data(Path(args.data_dir), args.real_train, args.real_test, args.per_subset, args.max_chars, args.seed)
    if s.eval_split == "dev":  # tuning reads dev; the test split stays unread
        data["test"] = data["dev"]
    console.print(f"real data: {data['info']}", highlight=False, soft_wrap=True)
    with quiet(run / "genrm.log"):  # library chatter goes to the log, as in the built-in part (genrm.demo.run_demo)
        methods = run_methods(run, model, data, s, chosen_rows(s), console=console)
    results = {"model": model, "size": size, "seed": args.seed, "settings": to_dict(s),
               "data": {split: {"n": len(data[split]), "subsets": sorted({p.subset for p in data[split]})} for split in ("train", "dev", "test", "ood")},
               "real_data": data["info"], "methods": methods,
               "split_labels": {"test": "test (human-labelled pool, prompts never trained on)",
                                "ood": "OOD: partial RewardBench"}}
    write_outputs(results, out, title=f"paper table, real data: {model}")
    return results


def cell(result) -> tuple[str, str]:
    """(accuracy % [Wilson 95% CI], length baseline %) of an EvalResult."""
    from genrm.eval.report import fmt_score, pct

    return (fmt_score(result.pooled), pct(result.pooled.length_baseline)) if result else ("-", "-")


def table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Rows in the paper's layout: in-distribution held-out, then RewardBench sections (or the
    pooled OOD set for the built-in data), each with the length baseline beside it."""
    from genrm.eval.report import pct

    rewardbench = any(m["ood"].bench == "rewardbench" for m in results["methods"].values() if m.get("status") == "done")
    cols = ["method", "test acc [95% CI]", "len"]
    if rewardbench:
        for sec in SECTIONS:
            cols += [sec, "len"]
        cols += ["RewardBench avg", "len", "OOD pooled [95% CI]", "len"]
    else:
        cols += ["OOD new families [95% CI]", "len", "adversarial twins [95% CI]", "len"]
    rows = []
    for name, m in results["methods"].items():
        if m.get("status") != "done":
            rows.append([name, m.get("reason", "not available")] + [""] * (len(cols) - 2))
            continue
        row = [name, *cell(m["test"])]
        ood = m["ood"]
        if rewardbench:
            for sec in SECTIONS:
                row += [pct(ood.sections.get(sec)), pct(ood.length_baseline["sections"].get(sec))]
            row += [pct(ood.overall), pct(ood.length_baseline["overall"])]
        row += list(cell(ood))
        if not rewardbench:
            row += list(cell(m.get("twin")))
        rows.append(row)
    return cols, rows


TITLES = {"builtin": ("(a) built-in data, size {size}: test = trained families on prompts never trained on; OOD = "
                      "new families; twins = same surface, opposite preference"),
          "real": ("(b) real data: trained on the human-labelled pool, test split by prompt; OOD = partial "
                   "RewardBench (Chat = alpacaeval, Safety = xstest, Reasoning = humanevalpack)")}


def run_part(which: str, out: Path, args, overrides: dict, console) -> dict:
    """One part's results at data seed args.seed, run (or resumed) in `out`."""
    from genrm.demo import run_demo

    if which == "builtin":
        return run_demo(out, model=args.model, size=args.size, overrides=overrides, seed=args.seed, console=console)
    return run_real(out, args.model, args.size, overrides, args, console)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/paper_table")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--which", default="builtin,real", help="comma list of builtin, real")
    parser.add_argument("--size", default="large", choices=("tiny", "default", "medium", "research", "large"), help="method settings (genrm/demo/settings.py SIZES)")
    parser.add_argument("--quick", action="store_true", help="smoke run: --size tiny and a few real pairs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a size setting")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--real-train", type=int, default=600, help="real training pairs (from the human-labelled pool)")
    parser.add_argument("--real-test", type=int, default=300, help="real test pairs (whole prompts; dev gets as many)")
    parser.add_argument("--per-subset", type=int, default=20, help="pairs per RewardBench subset (alpacaeval, xstest, hep)")
    parser.add_argument("--max-chars", type=int, default=2500, help="leave out pairs longer than this (prompt + both responses)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", help="comma list of data seeds, e.g. 0,1,2: each part once per seed (OUT/PART/seed-N), "
                                        "then mean ± sd, a per-seed table and the claims pooled over seeds (seeds.md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.real_train, args.real_test, args.per_subset, args.max_chars = "tiny", 8, 8, 1, 1200

    from rich.console import Console

    from genrm.config import parse_overrides
    from genrm.demo import conclusion, done_methods, labels
    from genrm.demo.seeds import markdown, print_summary, summarize
    from genrm.eval import compare
    from genrm.eval.report import md_table, rich_table
    from genrm.runs import atomic_write_json, atomic_write_text

    console = Console(width=max(Console().width, 180))  # the paper layout has 13 columns
    overrides = parse_overrides(args.overrides)
    out = Path(args.out)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()] if args.seeds else [args.seed]
    for which in [w.strip() for w in args.which.split(",") if w.strip()]:
        if which not in TITLES:
            raise SystemExit(f"--which: unknown part {which!r} (builtin, real)")
        title = TITLES[which].format(size=args.size)
        if len(seeds) > 1:
            per_seed = {}
            for seed in seeds:
                args.seed = seed
                per_seed[seed] = run_part(which, out / which / f"seed-{seed}", args, overrides, console)
                console.print(rich_table(*table(per_seed[seed]), f"{title} (seed {seed})"))
            summary = summarize(per_seed)
            atomic_write_json(out / which / "seeds.json", summary)
            print_summary(summary, console, f"{which}, seeds {seeds}")
            atomic_write_text(out / which / "table.md", markdown(summary, f"{title}; model {args.model}, size {args.size}, "
                                                                          f"data seeds {seeds}").replace("# ", "## ", 1))
            continue
        results = run_part(which, out / which, args, overrides, console)
        cols, rows = table(results)
        console.print(rich_table(cols, rows, title))
        n = {split: info["n"] for split, info in results["data"].items()}
        methods = done_methods(results)
        tests = "\n".join(f"### Paired tests on {label}\n\n" + md_table(compare.TEST_COLUMNS, compare.test_rows(
            compare.tests(methods, split))) + "\n" for split, label in labels(results).items()
            if any(split in r for r in methods.values()))
        part = (f"## {title}\n\nModel `{args.model}`, size `{args.size}`, pairs {n}. Accuracy %, Wilson 95% CI; "
                f"`len` = length baseline on the same pairs.\n\n{md_table(cols, rows)}\n\n{tests}\n"
                f"{conclusion(results)}\n")
        console.print(conclusion(results), highlight=False, soft_wrap=True)
        if which == "real":
            part += f"\nLeft out as longer than {args.max_chars} characters: {results['real_data']['left_out_too_long']}\n"
        atomic_write_text(out / which / "table.md", part)
    # every part run so far (each may have its own sizes: run them one --which at a time)
    parts = [(out / which / "table.md").read_text() for which in ("builtin", "real") if (out / which / "table.md").exists()]
    atomic_write_text(out / "paper_table.md", "# genrm: the paper's comparison\n\n" + "\n".join(parts))
    console.print(f"wrote {out / 'paper_table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
