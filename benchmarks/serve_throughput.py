# .venv/bin/python benchmarks/serve_throughput.py [--quick] [--requests 128] [--batch-size 32] [--max-wait-ms 10] [--judge bt-smollm2] [--data DIR]
# OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_throughput.py --judge cot [--quick] [--requests 64] [--repeat 0.5] [--votes 2] [--max-new-tokens 32] [--cache-size 4096]
"""`genrm serve` throughput: requests/s of POST /score at 1, 8 and 32 concurrent clients, with
batching across requests (--batch-size N) against one request per judge call (--batch-size 1);
with `--judge cot`, requests/s of POST /judge for a CoT judge and its cache's hit rate.

The server (genrm.serving.server.JudgeServer, in this process on 127.0.0.1) serves a BT judge: by default a
one-label head on the embedded SmolLM2-135M (untrained head, which does not change the cost);
`--judge` takes anything pointwise that `genrm.load_judge` accepts (`length`: the HTTP path alone).
Each request is what OpenRLHF sends per sample: one query = a prompt rendered with the judge's chat
template + a response + EOS, with its prompt. Prompts and responses: a seeded sample of the partial
RewardBench in ../shared/data (alpacaeval, xstest; prompt + response <= --max-chars characters).
Every cell sends the same --requests requests, split evenly over the clients, each client sending
its share one after another; both servers (the judge is shared, one server busy at a time) run at
each level in turn, without a cache (every level sends the same requests); their rewards must agree
(max |difference| printed). Requests per judge call show how much the worker gathered.

`--judge cot`: a CoT judge on the embedded SmolLM2-135M (zero-shot, --votes per order, both orders,
adaptive stopping, --max-new-tokens, forced verdicts: the small model rarely writes a tag itself)
answers POST /judge, one pair per request (a prompt and two responses from the same data, prompt +
both responses <= --max-chars characters). A share --repeat of the requests repeats the content of a
seeded earlier request of the sequence (with its own id), as a trainer re-scoring what it has seen
would. At each client level a new server (an empty cache of --cache-size answers) gets the same
sequence; printed per level: requests/s, judge calls, items per judge call (distinct pairs the judge
computed per call), the cache's hit rate (pairs answered from it / pairs looked up: a repeat of a
request still in flight misses, and if it shares that request's judge call it is judged once with
it), the pairs judged, and the process's peak RSS so far. The answers must agree across levels (CoT
samples are seeded by prompt and sample index; pairs whose p_first differs are counted). On cores
shared with other work, OMP_NUM_THREADS=1: torch's threads spin-wait when oversubscribed (2026-12-06,
2 shared cores: 3:53 for --quick with one thread; with two, over 17 minutes for the first level alone).
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIENTS = (1, 8, 32)


def build_judge(name: str, votes: int = 2, max_new_tokens: int = 32):
    import torch

    if name == "cot":
        from genrm import load_judge

        return load_judge("smollm2-135m", kind="cot", votes=votes, max_new_tokens=max_new_tokens, force_verdict=True)
    if name != "bt-smollm2":
        from genrm import load_judge

        return load_judge(name)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genrm.judges.bt import BTJudge
    from genrm.models import resolve_model

    torch.manual_seed(0)
    path = resolve_model("smollm2-135m")
    head = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32).eval()
    return BTJudge(head, AutoTokenizer.from_pretrained(path), name="bt-smollm2 (untrained head)")


def bodies(judge, data: Path, n: int, max_chars: int, seed: int) -> list[bytes]:
    from genrm.data.chat import render
    from genrm.data.pairs import load_pairs

    tokenizer = getattr(judge, "tokenizer", None)
    pool = [(p.prompt[-1]["content"], text) for name in ("alpacaeval", "xstest") for p in load_pairs(data / f"{name}.jsonl")
            if len(p.prompt) == 1 for text in (p.chosen_text, p.rejected_text)]
    pool = [(q, r) for q, r in pool if len(q) + len(r) <= max_chars]
    random.Random(seed).shuffle(pool)
    out = []
    for question, response in (pool * (1 + n // len(pool)))[:n]:
        prompt = render(tokenizer, [{"role": "user", "content": question}]) if tokenizer is not None else question
        eos = tokenizer.eos_token if tokenizer is not None else ""
        out.append(json.dumps({"query": [prompt + response + eos], "prompts": [prompt], "labels": [""]}).encode())
    return out


def pair_bodies(data: Path, n: int, max_chars: int, repeat: float, seed: int) -> tuple[list[bytes], int]:
    """`n` POST /judge bodies of one pair each, a share `repeat` repeating an earlier one's content; and
    the number of distinct pairs."""
    from genrm.data.pairs import load_pairs

    pool = [(p.prompt[-1]["content"], p.chosen_text, p.rejected_text) for name in ("alpacaeval", "xstest")
            for p in load_pairs(data / f"{name}.jsonl") if len(p.prompt) == 1]
    pool = [t for t in pool if sum(map(len, t)) <= max_chars]
    rng = random.Random(seed)
    rng.shuffle(pool)
    contents, fresh = [], iter(pool * (1 + n // len(pool)))
    for i in range(n):
        contents.append(contents[rng.randrange(i)] if i and rng.random() < repeat else next(fresh))
    return [json.dumps({"pairs": [{"prompt": q, "first": a, "second": b, "id": f"request-{i}"}]}).encode()
            for i, (q, a, b) in enumerate(contents)], len(set(contents))


def post(url: str, body: bytes) -> float:
    """The reward (/score) or p_first (/judge) of a request's first item."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        answer = json.loads(response.read())
    return answer["rewards"][0] if "rewards" in answer else answer["judgments"][0]["p_first"]


def cell(url: str, requests: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Seconds to send every request from `clients` threads (each its share, in turn), and the answers."""
    shares = [list(range(i, len(requests), clients)) for i in range(clients)]
    rewards = [0.0] * len(requests)

    def client(indices):
        for i in indices:
            rewards[i] = post(url, requests[i])

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, shares))
    return time.perf_counter() - start, rewards


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="BT: 32 requests per cell, texts <= 150 characters (about a minute); cot: 16 requests per "
                         "level, texts <= 200 characters")
    ap.add_argument("--requests", type=int, default=None, help="requests per cell (default: 128; cot: 64 per level)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--judge", default="bt-smollm2",
                    help="bt-smollm2 (default), cot, or any pointwise judge load_judge accepts")
    ap.add_argument("--max-chars", type=int, default=600, help="longest prompt + response(s), in characters")
    ap.add_argument("--repeat", type=float, default=0.5, help="cot: share of requests repeating earlier content")
    ap.add_argument("--votes", type=int, default=2, help="cot: votes per order")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="cot: rationale length limit")
    ap.add_argument("--cache-size", type=int, default=4096, help="cot: the server's cache (0: off)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help=f"directory with alpacaeval.jsonl and xstest.jsonl (default: {DATA})")
    args = ap.parse_args()
    if args.judge == "cot":
        cot_levels(args)
    else:
        bt_batching(args)


def cot_levels(args) -> None:
    import torch

    from genrm.serving.server import JudgeServer, judge_settings

    n, max_chars = (16, 200) if args.quick else (args.requests or 64, args.max_chars)
    judge = build_judge("cot", args.votes, args.max_new_tokens)
    requests, distinct = pair_bodies(args.data, n, max_chars, args.repeat, args.seed)
    warm = JudgeServer(judge, port=0, cache_size=0).start()
    try:
        post(warm.url + "/judge", requests[0])  # first-call costs, outside the timed levels
    finally:
        warm.stop()
    settings = judge_settings(judge)
    print(f"judge=cot on smollm2-135m ({settings['votes']} votes per order, both orders={settings['both_orders']}, "
          f"adaptive={settings['adaptive']}, {settings['max_new_tokens']} new tokens, forced verdicts, "
          f"{settings['backend']} backend) requests per level={n} (1 pair each, {distinct} distinct, repeat share "
          f"{args.repeat:g}) batch {args.batch_size} max_wait={args.max_wait_ms:g} ms cache {args.cache_size} "
          f"torch threads={torch.get_num_threads()}")
    print(f"{'clients':>7} | {'req/s':>6} | judge calls | items per call | cache hit rate | pairs judged | peak RSS",
          flush=True)
    rows, answers = [], {}
    for clients in CLIENTS:  # one row per level, printed as it is measured
        server = JudgeServer(judge, port=0, batch_size=args.batch_size, max_wait_ms=args.max_wait_ms,
                             cache_size=args.cache_size).start()
        try:
            seconds, answers[clients] = cell(server.url + "/judge", requests, clients)
        finally:
            server.stop()
        stats, cache = server.batcher.stats, server.batcher.cache.stats()
        rows.append((clients, n / seconds, stats.judge_calls, stats.judged / max(stats.judge_calls, 1),
                     cache["hit_rate"] or 0.0, stats.judged, peak_rss_mb()))
        _, rate, calls, per_call, hit_rate, judged, rss = rows[-1]
        print(f"{clients:>7} | {rate:>6.3f} | {calls:>11} | {per_call:>14.1f} | {hit_rate:>14.0%} | {judged:>12} | "
              f"{rss:.0f} MB", flush=True)
    differ = sum(1 for c in CLIENTS for a, b in zip(answers[c], answers[CLIENTS[0]]) if a != b)
    print(f"answers differing from the 1-client level: {differ} of {n * (len(CLIENTS) - 1)}")
    print(f"summary: CoT judge served {'/'.join(f'{r[1]:.3f}' for r in rows)} req/s at {'/'.join(map(str, CLIENTS))} "
          f"clients ({rows[-1][1] / rows[0][1]:.2f}x at {CLIENTS[-1]}); cache hit rate "
          f"{'/'.join(f'{r[4]:.0%}' for r in rows)}; {'/'.join(f'{r[3]:.1f}' for r in rows)} pairs per judge call; "
          f"peak RSS {rows[-1][6]:.0f} MB")


def bt_batching(args) -> None:
    import torch

    from genrm.serving.server import JudgeServer

    n, max_chars = (32, 150) if args.quick else (args.requests or 128, args.max_chars)
    judge = build_judge(args.judge)
    requests = bodies(judge, args.data, n, max_chars, args.seed)
    sizes = (1, args.batch_size)
    servers = {b: JudgeServer(judge, port=0, batch_size=b, max_wait_ms=args.max_wait_ms, cache_size=0).start()
               for b in sizes}  # no cache: every level sends the same requests
    rates, rewards, per_call = {}, {}, {}
    try:
        for server in servers.values():
            post(server.url + "/score", requests[0])  # warm-up
        for clients in CLIENTS:  # the two servers side by side at each level: a busy machine drifts less
            for b, server in servers.items():
                calls = server.batcher.stats.judge_calls
                seconds, rewards[b, clients] = cell(server.url + "/score", requests, clients)
                rates[b, clients] = n / seconds
                per_call[b, clients] = n / (server.batcher.stats.judge_calls - calls)
    finally:
        for server in servers.values():
            server.stop()
    diff = max(abs(a - b) for v in rewards.values() for a, b in zip(v, rewards[1, 1]))
    rss = peak_rss_mb()
    print(f"judge={judge.name} ({judge.kind}) requests per cell={n} (1 query each) max_wait={args.max_wait_ms:g} ms "
          f"torch threads={torch.get_num_threads()} peak RSS {rss:.0f} MB")
    print(f"{'clients':>7} | {'batch 1 req/s':>13} | {f'batch {args.batch_size} req/s':>14} | gain  | requests per judge call")
    for clients in CLIENTS:
        one, many = rates[1, clients], rates[args.batch_size, clients]
        print(f"{clients:>7} | {one:>13.2f} | {many:>14.2f} | {many / one:4.2f}x | {per_call[args.batch_size, clients]:.1f}")
    print(f"max |reward difference| across all cells: {diff:.1e}")
    gains = "/".join(f"{rates[args.batch_size, c] / rates[1, c]:.2f}x" for c in CLIENTS)
    print(f"summary: batching gain (--batch-size {args.batch_size} vs 1) {gains} at {'/'.join(map(str, CLIENTS))} clients; "
          f"{rates[args.batch_size, CLIENTS[-1]]:.1f} req/s at {CLIENTS[-1]} clients; peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
