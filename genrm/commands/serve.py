"""genrm serve JUDGE --port P [--host 127.0.0.1] [--batch-size N] [--max-wait-ms M] [--queue-size Q] [--max-length L]
                   [--cache-size C] [--votes K] [--orders both|one] [--max-new-tokens T] [--temperature X] [--backend hf|vllm]

Serve a judge (anything `genrm.load_judge` accepts: run dir, export, HF id, smollm2-135m, length;
`--kind cot` makes a chat model a CoT judge) over HTTP until SIGINT/SIGTERM, batching concurrent
requests (genrm.serving.server, genrm.serving.protocol): POST /score (OpenRLHF remote reward model:
point `--reward.remote_url`, or `--remote_rm_url` before OpenRLHF 0.10.2, at http://HOST:P/score;
pointwise judges only), POST /judge (pairs, any judge), POST /group_reward (one prompt's completions
ranked against each other, any judge), GET /health. Answers are cached by content (`--cache-size`
entries, 0: off). The judge options apply to the kinds in TAKES; another kind refuses them (exit 1).
On a signal it stops accepting, answers every accepted request and exits 0.
"""
from __future__ import annotations

# load_judge option -> (its flag, the judge kinds that take it)
TAKES = {
    "votes": ("--votes", ("cot",)),
    "both_orders": ("--orders", ("cot", "genrm")),
    "max_new_tokens": ("--max-new-tokens", ("cot",)),
    "temperature": ("--temperature", ("cot",)),
    "backend": ("--backend", ("cot",)),
    "max_length": ("--max-length", ("bt", "genrm", "cot")),
}


def add_arguments(parser) -> None:
    parser.add_argument("judge", metavar="JUDGE", help="run dir, export, HF model id, smollm2-135m or length")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port, printed at start)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--kind", default="auto", choices=("auto", "bt", "genrm", "cot", "length"),
                        help="judge kind; auto reads the judge card or the architecture")
    parser.add_argument("--batch-size", type=int, default=32, help="items per judge call, gathered across requests")
    parser.add_argument("--max-wait-ms", type=float, default=10.0,
                        help="how long the first waiting request waits for others to fill a batch (default: 10)")
    parser.add_argument("--queue-size", type=int, default=1024, help="requests that may wait; beyond it 503 (default: 1024)")
    parser.add_argument("--cache-size", type=int, default=4096,
                        help="answers kept by content, so a repeated item costs no judge call (default: 4096; 0: off)")
    parser.add_argument("--max-length", type=int, default=None,
                        help="token limit passed to the judge (bt, genrm, cot); a longer request gets a 400")
    parser.add_argument("--max-body-bytes", type=int, default=8 << 20, help="largest request body (default: 8 MiB)")
    gen = parser.add_argument_group("generative judges (default: the judge card's values)")
    gen.add_argument("--votes", type=int, default=None, help="sampled verdicts per pair and order (cot; card, else 8)")
    gen.add_argument("--orders", default=None, choices=("both", "one"),
                     help="judge both display orders and average, or one seeded order per pair (cot, genrm; card, else both)")
    gen.add_argument("--max-new-tokens", type=int, default=None, help="rationale length limit (cot; card, else 256)")
    gen.add_argument("--temperature", type=float, default=None, help="sampling temperature (cot; card, else 1.0)")
    gen.add_argument("--backend", default=None, choices=("hf", "vllm"), help="generation backend (cot; default hf)")


def judge_options(args, kind: str) -> dict:
    """The load_judge options the flags give; a flag the judge kind does not take is a ValueError naming it."""
    given = {key: getattr(args, key) for key in TAKES if key != "both_orders"}
    given["both_orders"] = None if args.orders is None else args.orders == "both"
    options = {key: value for key, value in given.items() if value is not None}
    for key in options:
        flag, kinds = TAKES[key]
        if kind not in kinds:
            raise ValueError(f"{flag} does not apply to a {kind} judge (only to {' and '.join(kinds)} judges)")
    return options


def describe(health: dict) -> str:
    """The judge's settings and the cache in a few words, for the startup line."""
    s, parts = health["settings"], []
    if "votes" in s:
        parts.append(f"{s['votes']} votes per order")
    if "both_orders" in s:
        parts.append("both orders" if s["both_orders"] else "one order per pair")
    if "max_new_tokens" in s:
        parts.append(f"{s['max_new_tokens']} new tokens at temperature {s['temperature']:g}")
    if "backend" in s:
        parts.append(f"{s['backend']} backend")
    capacity = health["cache"]["capacity"]
    parts.append(f"cache of {capacity} answers" if capacity else "no cache")
    return ", ".join(parts)


def run(args) -> int:
    import os
    import signal
    import sys
    import threading

    from genrm.judges.base import judge_kind, load_judge
    from genrm.logs import quiet
    from genrm.serving.server import JudgeServer

    try:
        with quiet(os.devnull):  # load reports and progress bars (genrm --verbose shows them)
            kind = judge_kind(args.judge, None if args.kind == "auto" else args.kind)
            judge = load_judge(args.judge, kind=kind, **judge_options(args, kind))
        server = JudgeServer(judge, args.host, args.port, batch_size=args.batch_size, max_wait_ms=args.max_wait_ms,
                             queue_size=args.queue_size, max_body_bytes=args.max_body_bytes, cache_size=args.cache_size)
    except (OSError, OverflowError, ValueError, TypeError, ImportError) as err:  # OverflowError: a port outside 0-65535
        print(f"error: could not serve {args.judge!r}: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    endpoints = "POST /score, POST /judge, POST /group_reward, GET /health" if server.pointwise else \
        "POST /judge, POST /group_reward, GET /health"
    print(f"serving the {judge.kind} judge {judge.name} at {server.url} ({endpoints}; {describe(server.health())}); "
          "Ctrl-C stops", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0
