"""One worker thread that owns a judge and batches the requests of many threads (genrm serve).

Callers `submit(kind, items)` from any thread and wait: the request goes on a bounded queue (full:
RequestError 503). The worker takes the first waiting request, gathers more until `batch_size`
items or `max_wait_ms` after the first, calls the judge once per kind (`score`: (prompt, response)
items -> `judge.score`; `judge`: PreferencePairs -> `judge.judge`) and hands each request its
slice. When a call raises, each of its requests is retried alone, so only the requests that fail
get the error: 400 for a ValueError (the judge rejected the input, e.g. longer than max_length),
500 otherwise. `close()` lets the worker finish every queued request, then stops it.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field

from genrm.serving.protocol import RequestError


@dataclass
class Work:
    """One request's items, waiting for the worker."""

    kind: str  # "score" | "judge"
    items: list
    done: threading.Event = field(default_factory=threading.Event)
    result: list | None = None
    error: RequestError | None = None


@dataclass
class Stats:
    requests: int = 0  # answered
    items: int = 0
    judge_calls: int = 0
    failed_calls: int = 0
    most_requests_per_call: int = 0


class Batcher:
    def __init__(self, judge, batch_size: int = 32, max_wait_ms: float = 10.0, queue_size: int = 1024):
        if batch_size < 1 or queue_size < 1 or max_wait_ms < 0:
            raise ValueError(f"need batch_size >= 1, queue_size >= 1, max_wait_ms >= 0 (got {batch_size}, {queue_size}, "
                             f"{max_wait_ms})")
        self.judge, self.batch_size, self.max_wait = judge, batch_size, max_wait_ms / 1000.0
        self.queue: queue.Queue[Work] = queue.Queue(maxsize=queue_size)
        self.stats = Stats()
        self._closing, self._lock = False, threading.Lock()
        self._thread = threading.Thread(target=self._run, name="genrm-batcher", daemon=True)

    def start(self) -> Batcher:
        self._thread.start()
        return self

    def close(self) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        with self._lock:
            self._closing = True
        if self._thread.is_alive():
            self._thread.join()

    def submit(self, kind: str, items: list) -> list:
        """The judge's outputs for `items` (blocks until the worker has them)."""
        if not items:
            return []
        work = Work(kind, items)
        with self._lock:
            if self._closing:
                raise RequestError("the server is shutting down", 503)
            try:
                self.queue.put_nowait(work)
            except queue.Full:
                raise RequestError(f"the queue is full ({self.queue.maxsize} requests waiting); retry later", 503) from None
        work.done.wait()
        if work.error is not None:
            raise work.error
        return work.result

    def _run(self) -> None:
        while True:
            batch = self._gather()
            if not batch:
                with self._lock:
                    if self._closing and self.queue.empty():
                        return
                continue
            for kind in ("score", "judge"):
                works = [w for w in batch if w.kind == kind]
                try:
                    if works:
                        self._call(kind, works)
                except Exception as err:  # noqa: BLE001 - a bug here must not leave a request waiting
                    for w in works:
                        if not w.done.is_set():
                            w.error = RequestError(f"internal error: {type(err).__name__}: {err}", 500)
                            w.done.set()

    def _gather(self) -> list[Work]:
        try:
            batch = [self.queue.get(timeout=0.05)]
        except queue.Empty:
            return []
        size, deadline = len(batch[0].items), time.monotonic() + self.max_wait
        while size < self.batch_size and (left := deadline - time.monotonic()) > 0:
            try:
                batch.append(self.queue.get(timeout=left))
            except queue.Empty:
                break
            size += len(batch[-1].items)
        return batch

    def _call(self, kind: str, works: list[Work]) -> None:
        items = [item for w in works for item in w.items]
        self.stats.judge_calls += 1
        try:
            if kind == "score":
                out = self.judge.score([p for p, _ in items], [r for _, r in items], batch_size=self.batch_size)
            else:
                out = self.judge.judge(items, batch_size=self.batch_size)
            if len(out) != len(items):
                raise RuntimeError(f"the judge returned {len(out)} results for {len(items)} items")
        except Exception as err:  # noqa: BLE001 - reported to the requests; the worker keeps serving
            self.stats.failed_calls += 1
            if len(works) > 1:
                for w in works:
                    self._call(kind, [w])
                return
            status = 400 if isinstance(err, ValueError) else 500
            if status == 500:  # the server's problem, not the client's: say so where it runs
                print(f"genrm serve: the judge failed on a {kind} request: {type(err).__name__}: {err}", file=sys.stderr)
            works[0].error = RequestError(f"the judge failed on this request: {type(err).__name__}: {err}", status)
            works[0].done.set()
            return
        self.stats.requests += len(works)
        self.stats.items += len(items)
        self.stats.most_requests_per_call = max(self.stats.most_requests_per_call, len(works))
        start = 0
        for w in works:
            w.result, start = list(out[start:start + len(w.items)]), start + len(w.items)
            w.done.set()
