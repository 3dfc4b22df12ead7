# HF_HUB_OFFLINE=1 flock /tmp/genrm-heavy.lock .venv/bin/python benchmarks/official_agreement.py --out runs/bench-official-agreement
"""A genrm BT export scored by the official RewardBench harness (`rewardbench==0.1.4`, transformers
4.51, in its own virtual environment) vs `genrm eval` (transformers 5.x) on the same pairs, plus the
logits of BT, GenRM and CoT exports under both transformers versions.

Steps (each reuses what an earlier run left in --out where it can):
1. the harness's environment: --venv (default ~/.cache/genrm/rewardbench-venv) with torch==2.13.0
   installed first (the local CPU wheel here; a bare torch pulls a multi-GB CUDA build), then
   rewardbench==0.1.4 and setuptools<81 (rewardbench.py imports pkg_resources, which a fresh venv
   lacks);
2. a BT judge: --run (a run directory, checkpoint or export), or OUT/bt-run trained for a few steps
   with `genrm train bt` on genrm.data.synth pairs; exported with `genrm export` to OUT/export;
3. pairs: --per-subset pairs per RewardBench subset from --data-dir ({alpacaeval,xstest,
   humanevalpack}.jsonl, official subset names; read, never copied into the repo), only pairs of at
   most --max-chars characters (prompt + longer response), drawn with random.Random(f"{seed}:{subset}"),
   written to OUT/pairs.jsonl with columns prompt, chosen, rejected, subset, id. chosen/rejected are
   the two conversations (user turn, assistant turn): the CLI's `--dataset FILE --load_json` path of
   rewardbench 0.1.4 requires that form (plain-string chosen/rejected fail in its
   `process_preference_data` with "string indices must be integers"); genrm reads the same file;
4. the official CLI, unmodified: `rewardbench --model export --dataset pairs.jsonl --load_json
   --save_all --torch_dtype float32 --not_quantized --batch_size B`. On a machine without CUDA it is
   started through OUT/rewardbench_cpu.py, which wraps `transformers.BatchEncoding.to` so that "cuda"
   means "cpu" (the harness's RewardBenchPipeline hard-codes `.to("cuda")` on the tokenized batch)
   and then calls `rewardbench.rewardbench.main()`: the harness's formatting, padding and scoring code
   run as published;
5. `genrm eval --bench rewardbench --data OUT/pairs.jsonl --model OUT/export`;
6. comparison: per-score |official - genrm| (chosen and rejected scores, max and median), pairs with
   the same verdict, both accuracies, the sections from the official
   `rewardbench.utils.calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, ...)` next to genrm's;
7. logits (fp32) of the BT export and of GenRM and CoT exports (the base chat model saved as a judge
   checkpoint with a "genrm" / "cot" card and exported, or --genrm-run) under transformers 4.51 and
   5.x on the same token ids, with tokenization and chat-template text compared too; a negative
   control loads the BT export with its legacy RoPE keys removed under 4.51 (what issue 17 measured).

Sizes: 4 pairs per subset of at most 1000 characters (44 pairs, about 17 minutes on 2 busy CPU
cores, most of it the two scorings); `--quick`: 1 pair per subset of at most 600 (11 pairs, about 7).
Prints a `summary:` line; writes OUT/agreement.json; exits 1 unless the export's figures agree
(identical verdicts, |d score| <= 1e-3, per-subset accuracies equal, logits within 1e-4).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = ("alpacaeval.jsonl", "xstest.jsonl", "humanevalpack.jsonl")
HARNESS = ("torch==2.13.0", "rewardbench==0.1.4", "setuptools<81")

# run by the harness's python: the official CLI, with BatchEncoding.to("cuda") sent to the CPU when
# there is no CUDA device (nothing else is changed)
CPU_WRAPPER = '''import sys
import torch
import transformers

if not torch.cuda.is_available():
    _to = transformers.BatchEncoding.to

    def _to_cpu(self, device, *args, **kwargs):
        if str(device).startswith("cuda"):
            device = "cpu"
        return _to(self, device, *args, **kwargs)

    transformers.BatchEncoding.to = _to_cpu
from rewardbench.rewardbench import main

sys.argv[0] = "rewardbench"
sys.exit(main())
'''

# run by the harness's python: the official section scores of per-subset accuracies (stdin -> stdout)
SECTIONS_SCRIPT = '''import json, sys
from rewardbench.constants import EXAMPLE_COUNTS, SUBSET_MAPPING
from rewardbench.utils import calculate_scores_per_section
acc = json.load(sys.stdin)
known = {s for tests in SUBSET_MAPPING.values() for s in tests}
print(json.dumps({"sections": calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, acc),
                  "example_counts": EXAMPLE_COUNTS,
                  "present": {k: [s for s in v if s in acc] for k, v in SUBSET_MAPPING.items()},
                  "unknown": sorted(set(acc) - known)}))
'''

# run by both pythons: how one transformers version reads exports (config, tokenizer, logits);
# argv: conversations.json OUT_PREFIX LABEL=EXPORT ... -> OUT_PREFIX-LABEL.json / .pt
PROBE_SCRIPT = '''import json, sys
import torch, transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
conversations = json.load(open(sys.argv[1]))
for item in sys.argv[3:]:
    label, path = item.split("=", 1)
    out = sys.argv[2] + "-" + label
    cfg = AutoConfig.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    texts = [tok.apply_chat_template(c, tokenize=False) for c in conversations]
    template_ids = []
    for c in conversations:
        x = tok.apply_chat_template(c, tokenize=True)
        template_ids.append(list(x["input_ids"]) if hasattr(x, "keys") else list(x))
    seqcls = any(a.endswith("ForSequenceClassification") for a in (cfg.architectures or []))
    cls = AutoModelForSequenceClassification if seqcls else AutoModelForCausalLM
    model, info = cls.from_pretrained(path, torch_dtype=torch.float32, output_loading_info=True)
    model.eval()
    logits = []
    with torch.no_grad():
        for ids in template_ids:  # the same ids in both versions (checked by the caller)
            lg = model(input_ids=torch.tensor([ids])).logits[0]
            logits.append(lg[-1:] if seqcls else lg[-8:])  # BT: the reward; LM: last 8 positions, whole vocabulary
    torch.save(logits, out + ".pt")
    rope = {k: getattr(cfg, k, None) for k in ("rope_theta", "rope_scaling", "rope_parameters")}
    json.dump({"transformers": transformers.__version__, "tokenizer_class": type(tok).__name__,
               "model_input_names": list(tok.model_input_names), "call_keys": sorted(tok(texts[0]).keys()),
               "special": [tok.bos_token_id, tok.eos_token_id, tok.pad_token_id], "config_pad": cfg.pad_token_id,
               "texts": texts, "template_ids": template_ids, "call_ids": [tok(t)["input_ids"] for t in texts],
               "rope": json.loads(json.dumps(rope, default=str)),
               "loading_info": {k: sorted(map(str, v)) for k, v in info.items()}}, open(out + ".json", "w"))
'''


def sh(cmd: list[str], log: Path | None = None, cwd: Path | None = None, env: dict | None = None) -> float:
    """Run `cmd`; its output goes to `log`; raise with the log's tail on failure. Returns seconds."""
    start = time.perf_counter()
    with open(log or os.devnull, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})},
                            check=False).returncode
    if rc != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise SystemExit(f"failed ({rc}): {' '.join(map(str, cmd))}\n{tail}")
    return time.perf_counter() - start


def harness_python(venv: Path, log_dir: Path) -> Path:
    python = venv / "bin" / "python"
    marker = venv / "genrm-harness.json"
    if python.exists() and marker.is_file() and json.loads(marker.read_text()).get("packages") == list(HARNESS):
        return python
    print(f"setting up the official harness in {venv} ({', '.join(HARNESS)}) ...", flush=True)
    if not python.exists():
        sh([sys.executable, "-m", "venv", str(venv)], log_dir / "venv.log")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for package in HARNESS:  # torch first, on its own: the pinned CPU wheel, not a CUDA build
        sh(pip + [package], log_dir / "venv.log")
    marker.write_text(json.dumps({"packages": list(HARNESS)}))
    return python


def genrm_cli(*args: str, log: Path) -> float:
    return sh([sys.executable, "-m", "genrm.cli", *args], log)


def bt_run(args, out: Path) -> Path:
    if args.run:
        return Path(args.run)
    run = out / "bt-run"
    if (run / "checkpoint" / "genrm_judge.json").is_file():
        print(f"reusing the BT run in {run}", flush=True)
        return run
    from genrm.data.synth import write_splits

    splits = write_splits(out / "synth", {"train": 32, "test": 8, "ood": 8}, seed=args.seed)
    print(f"training a BT judge on {args.model} for {args.steps} steps ...", flush=True)
    t = genrm_cli("train", "bt", "--model", args.model, "--data", str(splits["train"]), "--out", str(run),
                  f"max_steps={args.steps}", "per_device_train_batch_size=2", "learning_rate=1e-4",
                  "disable_tqdm=true", log=out / "train.log")
    print(f"  trained in {t:.0f} s", flush=True)
    return run


def conversation(prompt: str, response: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]


def write_pairs(args, path: Path) -> list[dict]:
    rows = []
    for name in FILES:
        by_subset: dict[str, list[tuple[int, dict]]] = {}
        with open(Path(args.data_dir) / name) as fh:
            for row_no, line in enumerate(fh, 1):
                r = json.loads(line)
                if len(r["prompt"]) + max(len(r["chosen"]), len(r["rejected"])) <= args.max_chars:
                    by_subset.setdefault(r["subset"], []).append((row_no, r))
        for subset in sorted(by_subset):
            eligible = by_subset[subset]
            picked = random.Random(f"{args.seed}:{subset}").sample(eligible, min(args.per_subset, len(eligible)))
            for row_no, r in sorted(picked, key=lambda x: x[0]):
                rows.append({"prompt": r["prompt"], "chosen": conversation(r["prompt"], r["chosen"]),
                             "rejected": conversation(r["prompt"], r["rejected"]), "subset": subset,
                             "id": f"{Path(name).stem}-{row_no}"})
    # shortest first: the harness batches in file order, this keeps its padding (and time) down
    rows.sort(key=lambda r: (len(r["prompt"]) + max(len(r["chosen"][1]["content"]), len(r["rejected"][1]["content"])), r["id"]))
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return rows


def field(example: dict, *names: str):
    """A per-example value under any of `names`, at the top or one level down (layouts change)."""
    for name in names:
        if name in example:
            return example[name]
    for value in example.values():
        if isinstance(value, dict):
            for name in names:
                if name in value:
                    return value[name]
    return None


def genrm_results(path: Path) -> tuple[dict[str, dict], dict, float | None, dict[str, float]]:
    results = json.loads(path.read_text())
    examples = results.get("examples") or results.get("per_example") or []
    if isinstance(examples, dict):
        examples = [{"id": k, **v} for k, v in examples.items()]
    by_id = {str(field(e, "id", "pair_id")): e for e in examples}
    sections = {}
    for name, value in (results.get("sections") or {}).items():
        if isinstance(value, dict):
            value = next((value[k] for k in ("score", "accuracy", "value") if k in value), None)
        if isinstance(value, (int, float)):
            sections[name] = float(value)
    overall = results.get("overall")
    if isinstance(overall, dict):
        overall = overall.get("score", overall.get("accuracy"))
    subsets = {name: value.get("accuracy") if isinstance(value, dict) else value
               for name, value in (results.get("subsets") or {}).items()}
    return by_id, sections, overall, subsets


def compare_scores(official: list[dict], genrm: dict[str, dict]) -> dict:
    diffs, same, missing, official_acc, genrm_acc = [], 0, [], [], []
    for o in official:
        e = genrm.get(str(o["id"]))
        sc, sr = (field(e, "score_chosen"), field(e, "score_rejected")) if e else (None, None)
        if sc is None or sr is None:
            missing.append(o["id"])
            continue
        oc, orj = float(o["scores_chosen"]), float(o["scores_rejected"])
        diffs += [abs(oc - sc), abs(orj - sr)]
        official_acc.append(1.0 if oc > orj else 0.0)  # the harness's own rule (results column)
        genrm_acc.append(1.0 if sc > sr else 0.0)
        same += (oc > orj) == (sc > sr)
    n = len(official_acc)
    return {"n": n, "missing": missing, "max_abs_diff": max(diffs) if diffs else None,
            "median_abs_diff": statistics.median(diffs) if diffs else None, "same_verdict": same,
            "official_accuracy": sum(official_acc) / n if n else None,
            "official_accuracy_reported": sum(o["results"] for o in official) / len(official) if official else None,
            "genrm_accuracy": sum(genrm_acc) / n if n else None}


def judge_checkpoint(model: str, kind: str, directory: Path) -> Path:
    """The base chat model saved as a genrm judge checkpoint of `kind` (the files `genrm train` /
    `genrm star` save: model, tokenizer with a pad token distinct from EOS, genrm_judge.json)."""
    checkpoint = directory / "checkpoint"
    if (checkpoint / "genrm_judge.json").is_file():
        return directory
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from genrm.models import prepare_tokenizer, resolve_model

    hf_logging.disable_progress_bar()

    path = resolve_model(model)
    tmp = directory / ".checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    AutoModelForCausalLM.from_pretrained(path).save_pretrained(tmp)
    prepare_tokenizer(AutoTokenizer.from_pretrained(path), side="left").save_pretrained(tmp)
    card = ({"kind": "genrm", "template": "indicator", "indicators": ["A", "B"], "both_orders": True} if kind == "genrm"
            else {"kind": "cot", "template": "cot", "votes": 4, "both_orders": True})
    (tmp / "genrm_judge.json").write_text(json.dumps({**card, "base_model": model}))
    tmp.rename(checkpoint)
    return directory


def probe(python: Path | str, exports: dict[str, Path], conversations: Path, prefix: Path, log_dir: Path) -> dict:
    """{label: (probe json, logits)} for every export, read by one python (one process)."""
    import torch

    script = log_dir / "probe.py"
    script.write_text(PROBE_SCRIPT)
    sh([str(python), str(script), str(conversations), str(prefix), *(f"{k}={v}" for k, v in exports.items())],
       log_dir / f"{prefix.name}.log", env={"HF_HUB_OFFLINE": "1"})
    return {k: (json.loads(Path(f"{prefix}-{k}.json").read_text()), torch.load(f"{prefix}-{k}.pt")) for k in exports}


def logits_checks(exports: dict[str, Path], harness: Path, conversations: Path, out: Path) -> tuple[list[dict], dict]:
    """Transformers 4.51 vs 5.x on each export, and the negative control: the BT export with its
    legacy RoPE keys removed (issue 17's files, tokenizer fixed) under 4.51."""
    broken = out / "export-no-legacy-rope"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(exports["bt"], broken)
    config = json.loads((broken / "config.json").read_text())
    for key in ("rope_theta", "rope_scaling"):
        config.pop(key, None)
    (broken / "config.json").write_text(json.dumps(config, indent=2))
    new = probe(sys.executable, exports, conversations, out / "probe-5", out)
    old = probe(harness, {**exports, "control": broken}, conversations, out / "probe-4", out)
    rows = []
    for label in exports:
        (n, n_logits), (o, o_logits) = new[label], old[label]
        same_tokens = all(n[k] == o[k] for k in ("texts", "template_ids", "call_ids"))
        diff = max(float((a - b).abs().max()) for a, b in zip(n_logits, o_logits)) if same_tokens else None
        rows.append({"kind": label, "max_abs_logit_diff": diff, "same_tokens": same_tokens,
                     "same_input_names": n["call_keys"] == o["call_keys"], "tokenizer_4": o["tokenizer_class"],
                     "call_keys_4": o["call_keys"], "rope_4": o["rope"], "loading_info_4": o["loading_info"],
                     "transformers": [n["transformers"], o["transformers"]]})
    control = old["control"]
    return rows, {"max_abs_logit_diff": max(float((a - b).abs().max()) for a, b in zip(new["bt"][1], control[1])),
                  "rope_4": control[0]["rope"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a BT run directory, checkpoint or export (default: train one in OUT/bt-run)")
    parser.add_argument("--genrm-run", help="a GenRM run/checkpoint/export for the logits check (default: the base model as one)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--per-subset", type=int, default=4)
    parser.add_argument("--max-chars", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--venv", default=str(Path(os.environ.get("GENRM_CACHE", Path.home() / ".cache" / "genrm")) / "rewardbench-venv"))
    parser.add_argument("--quick", action="store_true", help="1 pair per subset (11) of at most 600 characters")
    parser.add_argument("--skip-logits", action="store_true")
    parser.add_argument("--out", default="runs/bench-official-agreement")
    args = parser.parse_args()
    if args.quick:
        args.per_subset, args.max_chars = 1, 600
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    harness = harness_python(Path(args.venv).expanduser(), out)
    run = bt_run(args, out)
    export = out / "export"
    t_export = genrm_cli("export", str(run), "--out", str(export), log=out / "export.log")
    print(f"genrm export: {t_export:.0f} s", flush=True)
    rows = write_pairs(args, out / "pairs.jsonl")
    print(f"{len(rows)} pairs in {out / 'pairs.jsonl'} ({args.per_subset} per subset, <= {args.max_chars} characters)", flush=True)

    official_dir = out / "official"
    shutil.rmtree(official_dir, ignore_errors=True)
    (out / "rewardbench_cpu.py").write_text(CPU_WRAPPER)
    official_cmd = ["--model", "export", "--dataset", str(out / "pairs.jsonl"), "--load_json", "--save_all",
                    "--torch_dtype", "float32", "--not_quantized", "--batch_size", str(args.batch_size),
                    "--output_dir", "official/"]
    t_official = sh([str(harness), "rewardbench_cpu.py", *official_cmd], out / "official.log", cwd=out)
    official = [json.loads(line) for line in (official_dir / "export_outputs.jsonl").read_text().splitlines() if line.strip()]
    print(f"official rewardbench CLI: {t_official:.0f} s", flush=True)

    eval_dir = out / "genrm-eval"
    shutil.rmtree(eval_dir, ignore_errors=True)
    t_genrm = genrm_cli("eval", "--bench", "rewardbench", "--data", str(out / "pairs.jsonl"), "--model", str(export),
                        "--batch-size", str(args.batch_size), "--out", str(eval_dir), log=out / "genrm-eval.log")
    print(f"genrm eval: {t_genrm:.0f} s", flush=True)
    genrm_by_id, genrm_sections, genrm_overall, genrm_subsets = genrm_results(eval_dir / "results.json")
    scores = compare_scores(official, genrm_by_id)

    subsets: dict[str, list[float]] = {}
    for o in official:
        subsets.setdefault(o["subset"], []).append(float(o["results"]))
    accuracy = {s: sum(v) / len(v) for s, v in subsets.items()}
    official_sections = json.loads(subprocess.run([str(harness), "-c", SECTIONS_SCRIPT], input=json.dumps(accuracy),
                                                  capture_output=True, text=True, check=True).stdout)
    subset_gap = max((abs(accuracy[k] - genrm_subsets[k]) if genrm_subsets.get(k) is not None else 1.0 for k in accuracy),
                     default=0.0)
    try:  # genrm's copy of the official weights, where this genrm keeps it
        from genrm.eval.rewardbench import EXAMPLE_COUNTS as genrm_counts
    except ImportError:
        genrm_counts = {}
    weight_diffs = {k: (v, genrm_counts.get(k)) for k, v in official_sections["example_counts"].items()
                    if k in accuracy and genrm_counts and genrm_counts.get(k) != v}

    # the harness's token rows vs genrm's (the harness tokenizes text_chosen with tokenizer(...))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(export)
    by_id = {r["id"]: r for r in rows}
    same_rows = sum(list(tok(o[f"text_{w}"])["input_ids"]) ==
                    list(tok.apply_chat_template(by_id[o["id"]][w], tokenize=True, return_dict=True)["input_ids"])
                    for o in official for w in ("chosen", "rejected"))

    logits = []
    control = None
    if not args.skip_logits:
        conversations = out / "probe-conversations.json"
        probes = [r["chosen"] for r in rows[:2]] + [r["rejected"] for r in rows[-1:]]
        probes.append([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour. Ünïcödé ✓"},
                       {"role": "assistant", "content": "Blue.\n\nAlso:\tgreen!"}])
        conversations.write_text(json.dumps(probes))
        exports = {"bt": export}
        t_logits = time.perf_counter()
        for kind in ("genrm", "cot"):
            source = Path(args.genrm_run) if (kind == "genrm" and args.genrm_run) else judge_checkpoint(args.model, kind, out / f"{kind}-checkpoint")
            exports[kind] = out / f"export-{kind}"
            genrm_cli("export", str(source), "--out", str(exports[kind]), log=out / f"export-{kind}.log")
        print(f"GenRM and CoT exports: {time.perf_counter() - t_logits:.0f} s", flush=True)
        logits, control = logits_checks(exports, harness, conversations, out)
        print(f"logits under transformers 4.51 and 5.x: {time.perf_counter() - t_logits:.0f} s in all", flush=True)

    # ---- report
    print(f"\nBT export {export} ({len(official)} pairs, fp32, CPU); official: rewardbench 0.1.4 / transformers 4.51; "
          f"genrm: transformers {logits[0]['transformers'][0] if logits else '5.x'}")
    print(f"score |official - genrm| over {2 * scores['n']} scores: max {scores['max_abs_diff']:.3g}, "
          f"median {scores['median_abs_diff']:.3g}")
    print(f"same verdict: {scores['same_verdict']}/{scores['n']} pairs; token rows identical: {same_rows}/{2 * len(official)}"
          + (f"; missing in genrm results: {scores['missing']}" if scores["missing"] else ""))
    print(f"accuracy: official {scores['official_accuracy']:.4f} (harness 'results' column {scores['official_accuracy_reported']:.4f}), "
          f"genrm {scores['genrm_accuracy']:.4f}")
    print(f"{'section':<10} {'official':>9} {'genrm':>9}  subsets present")
    for name, value in official_sections["sections"].items():
        present = official_sections["present"].get(name) or []
        g = genrm_sections.get(name)
        print(f"{name:<10} {100 * value:>9.2f} {('-' if g is None else f'{100 * g:.2f}'):>9}  "
              f"{', '.join(present) if present else '(none: the official helper reports 0)'}")
    present_sections = [v for k, v in official_sections["sections"].items() if official_sections["present"].get(k)]
    official_overall = sum(present_sections) / len(present_sections) if present_sections else None
    print(f"{'overall':<10} {100 * official_overall:>9.2f} {('-' if genrm_overall is None else f'{100 * genrm_overall:.2f}'):>9}"
          "  (official: mean of the sections present)")
    print(f"per-subset accuracy, official vs genrm: max |d| {subset_gap:.3g} over {len(accuracy)} subsets")
    for name, (official_count, genrm_count) in weight_diffs.items():
        print(f"  section weight differs: {name} official EXAMPLE_COUNTS {official_count} (rewardbench 0.1.4), "
              f"genrm.eval.rewardbench {genrm_count}")
    for row in logits:
        print(f"logits {row['kind']:<5} transformers {row['transformers'][1]} vs {row['transformers'][0]}: max |d| "
              f"{row['max_abs_logit_diff'] if row['max_abs_logit_diff'] is None else format(row['max_abs_logit_diff'], '.3g')}, "
              f"tokens identical {row['same_tokens']}, 4.x tokenizer {row['tokenizer_4']} inputs {row['call_keys_4']}, "
              f"4.x rope_theta {row['rope_4'].get('rope_theta')}, missing/unexpected weights "
              f"{len(row['loading_info_4'].get('missing_keys', []))}/{len(row['loading_info_4'].get('unexpected_keys', []))}")
    if control:
        print(f"negative control (legacy RoPE keys removed, 4.51): max |d| {control['max_abs_logit_diff']:.3g}, "
              f"4.x rope_theta {control['rope_4'].get('rope_theta')}")
    section_gap = max((abs(official_sections["sections"][k] - genrm_sections[k]) for k in genrm_sections
                       if k in official_sections["sections"]), default=0.0)
    worst_logit = max((r["max_abs_logit_diff"] for r in logits if r["max_abs_logit_diff"] is not None), default=None)
    # the export's agreement; a section gap from differing weight tables is reported, not the export's doing
    ok = (scores["same_verdict"] == scores["n"] == len(official) and scores["max_abs_diff"] <= 1e-3 and subset_gap < 1e-9
          and (section_gap < 1e-9 or weight_diffs) and all(r["max_abs_logit_diff"] is not None and r["max_abs_logit_diff"] <= 1e-4 for r in logits))
    summary = {"pairs": len(official), "scores": scores, "same_token_rows": same_rows, "official_sections": official_sections,
               "genrm_sections": genrm_sections, "genrm_overall": genrm_overall, "official_overall": official_overall,
               "subset_gap": subset_gap, "section_weight_diffs": weight_diffs,
               "logits": logits, "negative_control": control, "seconds": {"official": t_official, "genrm": t_genrm,
                                                                          "total": time.perf_counter() - t0},
               "official_command": "rewardbench " + " ".join(official_cmd), "ok": ok}
    (out / "agreement.json").write_text(json.dumps(summary, indent=2))
    print(f"summary: official RewardBench 0.1.4 vs genrm eval on {len(official)} pairs: |d score| max "
          f"{scores['max_abs_diff']:.2g} median {scores['median_abs_diff']:.2g}, verdicts {scores['same_verdict']}/{scores['n']}, "
          f"accuracy {scores['official_accuracy']:.3f} vs {scores['genrm_accuracy']:.3f}, subset gap {subset_gap:.2g}, "
          f"section gap {section_gap:.2g}" + (f" (weights differ: {', '.join(weight_diffs)})" if weight_diffs else "") + "; "
          f"logits 4.51 vs 5.x max |d| {'-' if worst_logit is None else format(worst_logit, '.2g')} (bt, genrm, cot)"
          + (f", without legacy RoPE keys {control['max_abs_logit_diff']:.2g}" if control else "")
          + f"; {'OK' if ok else 'MISMATCH'} ({time.perf_counter() - t0:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
