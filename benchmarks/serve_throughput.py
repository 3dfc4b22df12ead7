# .venv/bin/python benchmarks/serve_throughput.py [--quick] [--requests 128] [--batch-size 32] [--max-wait-ms 10] [--judge bt-smollm2] [--data DIR]
"""`genrm serve` throughput: requests/s of POST /score at 1, 8 and 32 concurrent clients, with
batching across requests (--batch-size N) against one request per judge call (--batch-size 1).

The server (genrm.serving.server.JudgeServer, in this process on 127.0.0.1) serves a BT judge: by default a
one-label head on the embedded SmolLM2-135M (untrained head, which does not change the cost);
`--judge` takes anything pointwise that `genrm.load_judge` accepts (`length`: the HTTP path alone).
Each request is what OpenRLHF sends per sample: one query = a prompt rendered with the judge's chat
template + a response + EOS, with its prompt. Prompts and responses: a seeded sample of the partial
RewardBench in ../shared/data (alpacaeval, xstest; prompt + response <= --max-chars characters).
Every cell sends the same --requests requests, split evenly over the clients, each client sending
its share one after another; both servers (the judge is shared, one server busy at a time) run at
each level in turn; their rewards must agree (max |difference| printed). Requests per judge call
show how much the worker gathered.
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


def build_judge(name: str):
    import torch

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


def post(url: str, body: bytes) -> float:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["rewards"][0]


def cell(url: str, requests: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Seconds to send every request from `clients` threads (each its share, in turn), and the rewards."""
    shares = [list(range(i, len(requests), clients)) for i in range(clients)]
    rewards = [0.0] * len(requests)

    def client(indices):
        for i in indices:
            rewards[i] = post(url, requests[i])

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, shares))
    return time.perf_counter() - start, rewards


def main() -> None:
    import torch

    from genrm.serving.server import JudgeServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="32 requests per cell, texts <= 150 characters (about a minute)")
    ap.add_argument("--requests", type=int, default=128, help="requests per cell (clients x configuration)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--judge", default="bt-smollm2", help="bt-smollm2 (default) or any pointwise judge load_judge accepts")
    ap.add_argument("--max-chars", type=int, default=600, help="longest prompt + response, in characters")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA, help=f"directory with alpacaeval.jsonl and xstest.jsonl (default: {DATA})")
    args = ap.parse_args()
    n, max_chars = (32, 150) if args.quick else (args.requests, args.max_chars)
    judge = build_judge(args.judge)
    requests = bodies(judge, args.data, n, max_chars, args.seed)
    sizes = (1, args.batch_size)
    servers = {b: JudgeServer(judge, port=0, batch_size=b, max_wait_ms=args.max_wait_ms).start() for b in sizes}
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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
