"""A judge behind HTTP on the standard library, batched across concurrent requests (`genrm serve`).

    server = JudgeServer(load_judge("runs/bt"), port=0).start()   # port 0: any free port
    ... POST server.url + "/score" ...
    server.stop()                                                 # answers every accepted request first

Endpoints (bodies: genrm.serving.protocol): POST /score (OpenRLHF's remote reward model; also at
/get_reward) for pointwise judges, POST /judge for any judge, POST /group_reward (one prompt's
completions compared with each other: group rewards, genrm.judges.tournament) for any judge, GET
/health. Any judge serves, generative ones included: a CoT judge (votes@k, both orders or one,
HF or vLLM backend) or an indicator judge, with the settings it was loaded with (`judge_settings`,
shown by /health). A group's matches go through the Batcher like /judge pairs (knockout: one submit
per round). Request threads (http.server's ThreadingHTTPServer, one connection per request) parse
and validate a body and wait on the Batcher (genrm.serving.request_batcher), whose one worker
thread owns the judge; answers are kept by content in a bounded cache (`cache_size` entries, 0:
off; genrm.serving.cache), so /score items, /judge pairs and /group_reward matches already answered
cost no judge call. Every error is a JSON `{"error": ...}` with a 4xx/5xx status; the server keeps serving.

GET /health: `{"status": "ok", "kind", "name", "pointwise", "settings", "queue_depth", "batch_size",
"stats" (the worker's counters), "cache" (capacity, size, hits, misses, evictions, hit_rate)}`.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from genrm.judges.base import PointwiseJudge
from genrm.judges.tournament import group_rewards
from genrm.serving.protocol import (
    ChatFrame,
    RequestError,
    group_answer,
    group_request,
    judge_request,
    judgment_answer,
    parse_json,
    score_request,
)
from genrm.serving.request_batcher import Batcher

ROUTES = {"/score": "score", "/get_reward": "score", "/judge": "judge", "/group_reward": "group"}


def judge_settings(judge) -> dict:
    """How the judge judges, as /health and `genrm serve` show it: its card less the kind (CoT: votes,
    both_orders, adaptive, force_verdict, sampling; indicator: template, indicators, both_orders) and
    a generative judge's generation backend."""
    card = judge.card() if callable(getattr(judge, "card", None)) else {}
    out = {k: v for k, v in card.items() if k != "kind"}
    backend = getattr(getattr(judge, "generator", None), "backend", None)
    if backend is not None:
        out["backend"] = backend
    return out


class JudgeServer:
    def __init__(self, judge, host: str = "127.0.0.1", port: int = 8000, batch_size: int = 32,
                 max_wait_ms: float = 10.0, queue_size: int = 1024, max_body_bytes: int = 8 << 20, cache_size: int = 4096):
        self.judge, self.host, self.max_body_bytes = judge, host, max_body_bytes
        self.pointwise = isinstance(judge, PointwiseJudge)
        tokenizer = getattr(judge, "tokenizer", None)
        self.frame = ChatFrame.of(tokenizer) if self.pointwise and tokenizer is not None else None
        self.batcher = Batcher(judge, batch_size, max_wait_ms, queue_size, cache_size)
        self._http = _HTTPServer((host, port), _Handler)
        self._http.app = self
        self._started = False

    @property
    def port(self) -> int:
        return self._http.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> JudgeServer:
        self.batcher.start()
        threading.Thread(target=self._http.serve_forever, args=(0.1,), name="genrm-serve-http", daemon=True).start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop accepting connections, answer every request already accepted, stop the worker."""
        if self._started:
            self._http.shutdown()
            self._started = False
        self._http.server_close()  # joins the request threads, each waiting for its answer
        self.batcher.close()

    def health(self) -> dict:
        return {"status": "ok", "kind": self.judge.kind, "name": str(self.judge.name), "pointwise": self.pointwise,
                "settings": judge_settings(self.judge), "queue_depth": self.batcher.queue.qsize(),
                "batch_size": self.batcher.batch_size, "stats": vars(self.batcher.stats).copy(),
                "cache": self.batcher.cache.stats()}

    def handle(self, route: str, raw: bytes) -> dict:
        body = parse_json(raw)
        if route == "score":
            if not self.pointwise:
                raise RequestError(f"this judge ({self.judge.kind}) is pairwise and gives no pointwise reward; "
                                   "POST pairs to /judge, or one prompt's completions to /group_reward, instead")
            prompts, responses = score_request(body, self.frame)
            rewards = self.batcher.submit("score", list(zip(prompts, responses)))
            return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
        if route == "group":
            group = group_request(body)

            def judge_fn(pairs):
                return [j.p_chosen for j in self.batcher.submit("judge", pairs)]

            result = group_rewards(judge_fn, [(group.prompt, group.completions)], group.scheme, group.k, group.seed)[0]
            return group_answer(result)
        pairs = judge_request(body)
        judgments = self.batcher.submit("judge", pairs)
        return {"judgments": [judgment_answer(p, j) for p, j in zip(pairs, judgments)]}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the request threads (graceful stop)
    request_queue_size = 128  # connections the kernel holds before accept (socketserver's default: 5)
    app: JudgeServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "genrm-serve"
    timeout = 60  # seconds a client may stall mid-request

    def log_message(self, format, *args) -> None:  # quiet: no line per request
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/health":
            return self.reply(404, {"error": f"no such endpoint: GET {self.path} (GET /health, POST /score, /judge or /group_reward)"})
        self.reply(200, self.server.app.health())

    def do_POST(self) -> None:
        app, route = self.server.app, ROUTES.get(urlsplit(self.path).path)
        try:
            raw = self.body(app.max_body_bytes)
            if route is None:
                raise RequestError(f"no such endpoint: POST {self.path} (POST /score, /judge or /group_reward, GET /health)", 404)
            answer, status = app.handle(route, raw), 200
        except RequestError as err:
            answer, status = {"error": str(err)}, err.status
        except Exception as err:  # noqa: BLE001 - answer and keep serving
            answer, status = {"error": f"internal error: {type(err).__name__}: {err}"}, 500
        self.reply(status, answer)

    def body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length", "")
        if not length.strip().isdigit():
            self.close_connection = True
            raise RequestError("a body with a Content-Length header is required", 411)
        size = int(length)
        if size > limit:
            left = size  # read and drop it, so that the client gets to read the answer
            while left > 0 and (chunk := self.rfile.read(min(left, 1 << 16))):
                left -= len(chunk)
            raise RequestError(f"body of {size} bytes exceeds the limit of {limit} bytes (--max-body-bytes)", 413)
        return self.rfile.read(size)

    def reply(self, status: int, answer: dict) -> None:
        try:
            data = json.dumps(answer, allow_nan=False).encode()
        except ValueError as err:  # a NaN or infinite score
            status, data = 500, json.dumps({"error": f"the judge returned a non-finite value: {err}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)
