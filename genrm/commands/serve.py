"""genrm serve JUDGE --port P [--host 127.0.0.1] [--batch-size N] [--max-wait-ms M] [--queue-size Q] [--max-length L]

Serve a judge (anything `genrm.load_judge` accepts: run dir, export, HF id, smollm2-135m, length)
over HTTP until SIGINT/SIGTERM, batching concurrent requests (genrm.serving.server, genrm.serving.protocol):
POST /score (OpenRLHF remote reward model: point `--reward.remote_url`, or `--remote_rm_url` before
OpenRLHF 0.10.2, at http://HOST:P/score; pointwise judges only), POST /judge (pairs, any judge),
POST /group_reward (one prompt's completions ranked against each other, any judge), GET /health. On a signal it stops accepting, answers every accepted request and exits 0.
"""
from __future__ import annotations


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
    parser.add_argument("--max-length", type=int, default=None,
                        help="token limit passed to the judge; a longer request gets a 400")
    parser.add_argument("--max-body-bytes", type=int, default=8 << 20, help="largest request body (default: 8 MiB)")


def run(args) -> int:
    import os
    import signal
    import sys
    import threading

    from genrm.judges.base import load_judge
    from genrm.logs import quiet
    from genrm.serving.server import JudgeServer

    options = {"max_length": args.max_length} if args.max_length is not None else {}
    try:
        with quiet(os.devnull):  # load reports and progress bars (genrm --verbose shows them)
            judge = load_judge(args.judge, kind=None if args.kind == "auto" else args.kind, **options)
        server = JudgeServer(judge, args.host, args.port, batch_size=args.batch_size, max_wait_ms=args.max_wait_ms,
                             queue_size=args.queue_size, max_body_bytes=args.max_body_bytes)
    except (OSError, OverflowError, ValueError, TypeError) as err:  # OverflowError: a port outside 0-65535
        print(f"error: could not serve {args.judge!r}: {err}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    endpoints = "POST /score, POST /judge, GET /health" if server.pointwise else "POST /judge, GET /health"
    print(f"serving the {judge.kind} judge {judge.name} at {server.url} ({endpoints}); Ctrl-C stops", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0
