# HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rb2_official_agreement.py [--out DIR] [--break]
"""genrm's RewardBench 2 scoring vs the official RewardBench 2 script, run unmodified in its own environment.

The official code: github.com/allenai/reward-bench at commit OFFICIAL_COMMIT (2026-01-31, the newest
snapshot read): `scripts/run_v2.py` (`main`: unrolls each best-of-4 row into one text per completion,
scores them with the reward pipeline, `reroll_and_score_dataset`, then per subset the mean of the rows'
results, and `process_single_model` for Ties) and `rewardbench/utils.py` (`load_bon_dataset_v2`,
`reroll_and_score_dataset`: a row scores 1/k when its first completion, the chosen one, ties k ways
at the top, else 0; `process_single_model`: the Ties weighted metric). The official code computes no
overall score; the paper in the same commit (`paper-v2.pdf`, "Scoring RewardBench 2") defines it as
"an unweighted average across all six domains", which this script takes of the official figures.
The official generative paths (`scripts/run_generative_v2.py`) are a 4-way pick of the best response
and per-response 1-10 ratings; there is no pairwise (two-response) path, so genrm's pairwise judges
(a row counts when the chosen response wins its three comparisons) have nothing to be checked
against and are not run here.

Steps:
1. the official environment: --venv (default ~/.cache/genrm/rewardbench2-venv) with torch==2.13.0
   (the local CPU wheel; a bare torch pulls a CUDA build), transformers==4.57.6 (the commit's pin),
   datasets, pandas, numpy, accelerate, sentencepiece, tiktoken, tabulate, then the commit's own
   `rewardbench` package installed with --no-deps from --source (a checkout or `git archive` of the
   commit; default ~/.cache/genrm/reward-bench-05a9005; github.com is not reachable here, so pip
   cannot fetch it itself). The sha256 of the files that score (SOURCE_SHA256) are checked in the
   source and in the installed package before anything runs;
2. a local file in the RB2 schema (id, prompt, chosen, rejected, num_correct, num_rejected,
   total_completions, models, subset): 4 Factuality, 3 Precise IF, 4 Math, 3 Safety, 3 Focus rows
   (one chosen, three rejected), and 12 Ties rows: ref:N / tied:N for N = 0, 1, 2, 5, 6 (tied rows
   with 2-5 correct answers, as RB2's), ref:3 without a tied row and tied:4 without a ref row;
3. two deterministic judges that need no model: genrm's length judge (characters of the response;
   the sizes in PATTERNS and TIES give every row credit 1, 1/2, 1/3, 1/4, 0 and every branch of the
   Ties margin term: zero spread with a positive, negative and zero margin) and a hashed pointwise
   judge (sha256 of the response mod 3: many exact ties, at the top of rows and among a Ties
   prompt's correct answers, where the metric divides by a zero spread). Each completion is scored
   alone by the judge's own `score` (as run_v2 scores each unrolled text); these scores are the
   table the official side reads;
4. the official side: `scripts/run_v2.py`'s `main()` runs unmodified on the file (`--dataset FILE
   --do_not_save`, the `.jsonl` path of `load_bon_dataset_v2`): the tokenizer is a real local
   `PreTrainedTokenizerFast` whose chat template writes the conversation as JSON, and the model is a
   custom entry in the official `REWARD_MODEL_CONFIG` (the repository's own way to add reward
   models) whose pipeline returns the table's score of each (prompt, response). Its printed per-subset
   lines are parsed (float reprs, exact), and its saved per-row scores and results are read back;
5. the genrm side: `genrm.eval.evaluate(judge, rows, bench="rewardbench2")` on the same file read by
   `genrm.eval.rewardbench2.load_rows`: subsets' accuracy (Ties: the weighted metric), overall;
6. comparison, side by side: per subset, Ties, overall (mean of the six), every non-Ties row's credit
   and every completion's score. Exit 1 on any difference above 1e-9.
`--break` (negative control) moves one chosen completion's score in the official side's tables (above
or below all its rejected ones: row math0 for the length judge, tied:6 for the hashed one), so the
official Math and Ties figures must differ from genrm's: it exits 1.
About 10 s on 2 busy CPU cores once the environment exists (the official run_v2 about 5 s); the
first run builds the environment (a few minutes).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import side_by_side  # benchmarks/side_by_side.py

from genrm.eval import rewardbench2 as rb2
from genrm.eval.runner import evaluate
from genrm.judges.base import assistant, judge_pointwise
from genrm.judges.length import LengthJudge

TOLERANCE = 1e-9
OFFICIAL_REPO = "github.com/allenai/reward-bench"
OFFICIAL_COMMIT = "05a9005efb607249822c193590c8ecab87c77052"
# sha256 of the files whose code scores (read from the commit with `git show COMMIT:PATH`)
SOURCE_SHA256 = {
    "rewardbench/utils.py": "56b32e5a56af46716de3308537d9ba7bbd3ac3db07face66f4b10bd6ed38d7db",
    "scripts/run_v2.py": "e593782c3dc0048776f4c546d194497463ce3437eb7b37a4006b0c92cd79c77d",
}
HARNESS = ("torch==2.13.0", "transformers==4.57.6", "datasets", "pandas", "numpy", "accelerate", "sentencepiece",
           "tiktoken", "tabulate")
CACHE = Path(os.environ.get("GENRM_CACHE", Path.home() / ".cache" / "genrm"))

# run by the official environment's python: argv SOURCE DATA JOBS_JSON TOKENIZER_DIR RESULT_JSON; for each job
# {"label", "table", "cwd", "out"} it runs run_v2.main() unmodified on DATA with the table as reward model
DRIVER = r'''import contextlib, importlib.util, io, json, logging, os, re, sys, types
source, data, jobs, tokenizer_dir, result_path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], sys.argv[5]

# logging to stderr before run_v2 sets it up (its basicConfig is then a no-op): stdout keeps its prints
logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stderr)])

import torch
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast

# a real local tokenizer, loaded by run_v2 with AutoTokenizer.from_pretrained; its chat template writes the
# conversation as JSON, so the reward pipeline below sees exactly which prompt and response it scores
tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1, "</s>": 2},
                                                                          unk_token="[UNK]")),
                              unk_token="[UNK]", pad_token="[PAD]", eos_token="</s>")
tok.chat_template = "{{ messages | tojson }}"
tok.save_pretrained(tokenizer_dir)

import rewardbench
from rewardbench import REWARD_MODEL_CONFIG

spec = importlib.util.spec_from_file_location("official_run_v2", os.path.join(source, "scripts", "run_v2.py"))
run_v2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_v2)

TABLE = {}


class TableModel(torch.nn.Module):
    """The 'reward model': holds nothing; the pipeline scores from the table."""

    def __init__(self):
        super().__init__()
        self.config = types.SimpleNamespace(pad_token_id=None)


class TablePipeline:
    """Called as run_v2 calls its reward pipeline: texts in, [{"label", "score"}] out."""

    def __init__(self, task, model=None, tokenizer=None):
        self.model, self.tokenizer = model, tokenizer

    def __call__(self, texts, **kwargs):
        out = []
        for text in texts:
            messages = json.loads(text)
            assert [m["role"] for m in messages] == ["user", "assistant"], messages
            out.append({"label": "LABEL_0", "score": TABLE[json.dumps([messages[0]["content"], messages[1]["content"]])]})
        return out


results = {"rewardbench_file": rewardbench.__file__, "rewardbench_version": rewardbench.__version__,
           "run_v2_file": spec.origin, "jobs": {}}
for job in jobs:
    TABLE.clear()
    TABLE.update(json.load(open(job["table"])))
    name = "genrm-table/" + job["label"]
    REWARD_MODEL_CONFIG[name] = {"model_builder": lambda *a, **k: TableModel(), "pipeline_builder": TablePipeline,
                                 "quantized": False, "custom_dialogue": False, "model_type": "Seq. Classifier"}
    os.makedirs(job["cwd"], exist_ok=True)
    os.chdir(job["cwd"])  # run_v2 saves ./results/eval-set-scores/MODEL.json (local_only with --do_not_save)
    sys.argv = ["run_v2.py", "--model", name, "--tokenizer", tokenizer_dir, "--dataset", data, "--do_not_save",
                "--disable_beaker_save", "--batch_size", "8", "--torch_dtype", "float32"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run_v2.main()
    lines = printed.getvalue().splitlines()
    subsets = {}
    for line in lines:
        m = re.fullmatch(r"(.+): Overall score (\S+)", line) or re.fullmatch(r"(.+): \S+/\d+ \((\S+)\)", line)
        if m:
            subsets[m.group(1)] = float(m.group(2))
    saved = json.load(open(os.path.join("results", "eval-set-scores", name + ".json")))
    rows = {i: {"scores": s, "results": r, "subset": sub, "num_correct": n}
            for i, s, r, sub, n in zip(saved["id"], saved["scores"], saved["results"], saved["subset"], saved["num_correct"])}
    results["jobs"][job["label"]] = {"printed": lines, "subsets": subsets, "rows": rows}
json.dump(results, open(result_path, "w"))
'''


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sh(cmd: list[str], log: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    with open(log, "a") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            check=False).returncode
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(map(str, cmd))}\n{log.read_text()[-3000:]}")
    return time.perf_counter() - start


def check_source(source: Path) -> None:
    for rel, digest in SOURCE_SHA256.items():
        path = source / rel
        if not path.is_file():
            raise SystemExit(f"{path} missing: --source must be {OFFICIAL_REPO} at {OFFICIAL_COMMIT} (git archive)")
        if sha256(path) != digest:
            raise SystemExit(f"{path}: sha256 {sha256(path)} is not that of {OFFICIAL_COMMIT} ({digest})")


def official_python(venv: Path, source: Path, log: Path) -> Path:
    python, marker = venv / "bin" / "python", venv / "genrm-rb2-harness.json"
    want = {"packages": list(HARNESS), "rewardbench": OFFICIAL_COMMIT}
    if not (python.exists() and marker.is_file() and json.loads(marker.read_text()) == want):
        print(f"setting up the official environment in {venv} ...", flush=True)
        if not python.exists():
            sh([sys.executable, "-m", "venv", str(venv)], log)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        sh(pip + [HARNESS[0]], log)  # torch first, on its own: the pinned CPU wheel
        sh(pip + list(HARNESS[1:]), log)
        sh(pip + ["--no-deps", "--force-reinstall", str(source)], log)
        marker.write_text(json.dumps(want))
    installed = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('rewardbench').origin)"],
                               capture_output=True, text=True, check=True).stdout.strip()
    utils = Path(installed).parent / "utils.py"
    if sha256(utils) != SOURCE_SHA256["rewardbench/utils.py"]:
        raise SystemExit(f"installed {utils} is not the one of {OFFICIAL_COMMIT}")
    return python


# ---------------------------------------------------------------- judges and data


def digest(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest(), 16)


class HashedJudge:
    """Pointwise: score = sha256 of (SALT, the response text) mod 3 (0, 1 or 2: exact ties are common)."""

    kind, name = "hashed", "hashed scores"
    SALT = "score111"  # the first salt for which the rows below get every credit (0, 1/4, 1/3, 1/2, 1) and Ties hits

    def score(self, prompts, responses, batch_size=8, progress=False):
        return [float(digest(self.SALT, assistant(r)[-1]["content"]) % 3) for r in responses]

    def judge(self, pairs, batch_size=8, progress=False):
        return judge_pointwise(self, pairs, batch_size, progress)


def text(tag: str, size: int) -> str:
    return f"{tag}: " + "x" * size  # tags have one width within a row: the length judge compares sizes


# response sizes [chosen, rejected x 3] of the non-Ties rows, cycled: the length judge's credit is
# 1, 1/2, 1/3, 1/4, 0, 0 and 1/2
PATTERNS = ([15, 5, 10, 0], [10, 10, 5, 0], [10, 10, 10, 0], [5, 5, 5, 5], [5, 10, 0, 0], [0, 5, 5, 5], [20, 0, 0, 20])
# Ties rows: (prompt id, kind, correct sizes, incorrect sizes). For the length judge: accurate and not,
# a zero spread among correct answers with a positive (0), negative (2) and zero (5) margin (the
# tanh of +inf, -inf and 0/0 -> 0), a spread below (6) and above (1) the margin; ref:3 has no tied
# row and tied:4 no ref row (they count in the accuracies only)
TIES = ((0, "ref", [20], [5, 10, 15]), (0, "tied", [20, 20, 20], [0, 5, 10, 15]),
        (1, "ref", [10], [5, 15, 0, 0, 5]), (1, "tied", [25, 20, 15, 30, 25], [0, 5, 10, 0, 5, 10]),
        (2, "ref", [10], [5, 0, 0]), (2, "tied", [10, 10], [15, 5, 0]),
        (3, "ref", [30], [0, 5, 10]), (4, "tied", [5, 5, 10, 10], [0, 0, 5, 10, 15]),
        (5, "ref", [10], [10, 0, 0]), (5, "tied", [20, 20, 20], [0, 5]),
        (6, "ref", [30], [0, 5, 10]), (6, "tied", [25, 30, 28], [0, 10, 5, 5]))


def best_of_rows() -> list[dict]:
    """The RB2-schema rows (see the module docstring)."""
    rows = []
    counts = {"Factuality": 4, "Precise IF": 3, "Math": 4, "Safety": 3, "Focus": 3}
    g = 0
    for domain, n in counts.items():
        for k in range(n):
            key, sizes = f"{domain[:4].lower()}{k}", PATTERNS[g % len(PATTERNS)]
            g += 1
            rows.append({"id": key, "prompt": f"{domain} question {k}?", "chosen": [text(f"{key}c0", sizes[0])],
                         "rejected": [text(f"{key}r{i}", sizes[i]) for i in (1, 2, 3)], "subset": domain})
    for pid, kind, correct, incorrect in TIES:
        rows.append({"id": f"{kind}:{pid}", "prompt": f"Ties question {pid}: name one.",
                     "chosen": [text(f"t{pid}{kind[0]}c{i:02d}", size) for i, size in enumerate(correct)],
                     "rejected": [text(f"t{pid}{kind[0]}n{i:02d}", size) for i, size in enumerate(incorrect)],
                     "subset": "Ties"})
    for r in rows:
        r.update(num_correct=len(r["chosen"]), num_rejected=len(r["rejected"]),
                 total_completions=len(r["chosen"]) + len(r["rejected"]),
                 models=["scripted"] * (len(r["chosen"]) + len(r["rejected"])))
    return rows


def score_table(judge, rows: list[dict]) -> dict[str, float]:
    """Each (prompt, completion) scored alone by the judge: {json [prompt, response]: score}."""
    keys = [(r["prompt"], t) for r in rows for t in r["chosen"] + r["rejected"]]
    scores = judge.score([[{"role": "user", "content": p}] for p, _ in keys], [t for _, t in keys])
    return {json.dumps(k): float(s) for k, s in zip(keys, scores)}


def break_table(table: dict[str, float], rows: list[dict], row_id: str) -> str:
    """Negative control: the row's first chosen (correct) score moved above (or below) all its rejected ones."""
    row = next(r for r in rows if r["id"] == row_id)
    chosen = json.dumps([row["prompt"], row["chosen"][0]])
    rejected = [table[json.dumps([row["prompt"], t])] for t in row["rejected"]]
    old = table[chosen]
    table[chosen] = min(rejected) - 1.0 if old > max(rejected) else max(rejected) + 1.0
    return f"--break: official side's score of {row_id}'s first chosen response {old} -> {table[chosen]}"


# ---------------------------------------------------------------- compare


def compare(title: str, lines: list[tuple[str, float, float]]) -> bool:
    return side_by_side.compare(title, lines, TOLERANCE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="keep the data, tables, official outputs and logs here (default: a temporary directory)")
    parser.add_argument("--venv", default=str(CACHE / "rewardbench2-venv"))
    parser.add_argument("--source", default=str(CACHE / f"reward-bench-{OFFICIAL_COMMIT[:7]}"),
                        help=f"{OFFICIAL_REPO} at {OFFICIAL_COMMIT} (a checkout or git archive)")
    parser.add_argument("--break", dest="broken", action="store_true", help="negative control: perturb one official input")
    args = parser.parse_args(argv)

    source = Path(args.source).expanduser()
    check_source(source)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        python = official_python(Path(args.venv).expanduser(), source, out / "venv.log")
        raw = best_of_rows()
        data = out / "rb2.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in raw))
        rows = rb2.load_rows(data)
        by_subset = {d: sum(r.subset == d for r in rows) for d in rb2.DOMAINS}
        print(f"{data}: {len(rows)} rows ({', '.join(f'{d} {n}' for d, n in by_subset.items())}), "
              f"{len(rb2.expand(rows))} genrm comparisons, {sum(len(r['chosen']) + len(r['rejected']) for r in raw)} "
              f"completions")
        print(f"official: {OFFICIAL_REPO} @ {OFFICIAL_COMMIT}, scripts/run_v2.py main() unmodified, in {python}")

        judges = {"length": LengthJudge(), "hashed": HashedJudge()}
        jobs = []
        for label, judge in judges.items():
            table = score_table(judge, raw)
            if args.broken:  # the length judge: a Math row; the hashed judge: a Ties row
                print(f"{label} judge, " + break_table(table, raw, "math0" if label == "length" else "tied:6"))
            (out / label).mkdir(exist_ok=True)
            (out / label / "table.json").write_text(json.dumps(table))
            jobs.append({"label": label, "table": str(out / label / "table.json"), "cwd": str(out / label)})
        (out / "driver.py").write_text(DRIVER)
        start = time.perf_counter()
        sh([str(python), str(out / "driver.py"), str(source), str(data), json.dumps(jobs), str(out / "tokenizer"),
            str(out / "official.json")], out / "official.log", env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        official = json.loads((out / "official.json").read_text())
        print(f"official run_v2 ran in {time.perf_counter() - start:.0f} s (rewardbench {official['rewardbench_version']} "
              f"from {official['rewardbench_file']})")

        ok = True
        for label, judge in judges.items():
            res = evaluate(judge, rows, bench="rewardbench2")
            off = official["jobs"][label]
            print(f"\n{label} judge, official run_v2 printed:")
            for line in off["printed"]:
                print(f"  | {line}")
            figures = [(d, res.subsets[d].accuracy, off["subsets"][d]) for d in rb2.DOMAINS]
            six = [off["subsets"][d] for d in rb2.DOMAINS]
            figures.append(("overall (mean of the six)", res.overall, sum(six) / len(six)))
            ok &= compare(f"{label} judge: genrm evaluate() vs official run_v2 (+ paper's unweighted mean)", figures)
            comp = res.subsets[rb2.TIES].components
            print("  genrm's Ties components: " + ", ".join(
                f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in comp.items()))
            examples = {e["id"]: e for e in res.examples}
            row_diff = [i for i, e in examples.items() if e["subset"] != rb2.TIES
                        and abs(e["correct"] - off["rows"][i]["results"]) > TOLERANCE]
            score_diff = [i for i, e in examples.items()
                          if e["chosen_scores"] + e["rejected_scores"] != off["rows"][i]["scores"]]
            credits = sorted({round(e["correct"], 6) for e in examples.values() if e["subset"] != rb2.TIES})
            print(f"  non-Ties rows with the same credit: {sum(e['subset'] != rb2.TIES for e in examples.values()) - len(row_diff)}"
                  f"/{sum(e['subset'] != rb2.TIES for e in examples.values())} (credits seen: {credits}); rows whose "
                  f"completion scores are identical: {len(examples) - len(score_diff)}/{len(examples)}")
            ok &= not row_diff and not score_diff
    print("\nsummary: " + ("genrm agrees with the official RewardBench 2 scoring on every figure" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
