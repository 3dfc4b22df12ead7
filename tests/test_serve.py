"""`genrm serve`: concurrent HTTP requests batched into few judge calls give the direct call's
answers (tiny BT, indicator and CoT judges: votes@k, both orders or one); JSON errors that name the
field; 503 when the queue is full; a failing request does not fail its batch neighbours; stop()
and SIGTERM drain the queue; the content-keyed cache (a repeat costs no judge call, bounded, equal
to the computed answer); judge options reach the judge (vLLM backend included) or are refused."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_cot import build_verdict_model

from genrm.judges.length import LengthJudge
from genrm.serving.cache import LRU, content_pair, keyed
from genrm.serving.protocol import ChatFrame, RequestError, group_answer, judge_request, judgment_answer, score_request
from genrm.serving.server import JudgeServer
from genrm.types import PreferencePair

ROOT = Path(__file__).resolve().parents[1]


def post(url: str, body, timeout: float = 30) -> tuple[int, dict, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def concurrently(calls: list) -> list:
    """Run the calls from as many threads, released together."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


class Counting:
    """A judge seen through a counter of calls (and their sizes); `gate` blocks each call until set."""

    def __init__(self, inner, gate: threading.Event | None = None):
        self.inner, self.kind, self.name, self.gate = inner, inner.kind, inner.name, gate
        self.tokenizer = getattr(inner, "tokenizer", None)
        self.calls: list[int] = []
        self.entered = threading.Event()

    def _enter(self, n: int) -> None:
        self.calls.append(n)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(30)

    def judge(self, pairs, batch_size=8, progress=False):
        self._enter(len(pairs))
        return self.inner.judge(pairs, batch_size)


class CountingPointwise(Counting):
    def score(self, prompts, responses, batch_size=8, progress=False):
        self._enter(len(responses))
        if any("BOOM" in r for r in responses):
            raise RuntimeError("boom")
        if any("TOO LONG" in r for r in responses):
            raise ValueError("1 conversation(s) exceed max_length=8 tokens")
        return self.inner.score(prompts, responses, batch_size)


@pytest.fixture
def serve():
    servers = []

    def start(judge, **options):
        servers.append(JudgeServer(judge, port=0, **options).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_chat_template_prompt_is_unwrapped_and_eos_dropped(tiny_model_dir):
    from genrm.data.chat import render
    from genrm.models import load_tokenizer

    tok = load_tokenizer(str(tiny_model_dir))
    frame = ChatFrame.of(tok)
    one_turn = render(tok, user("What is 2+2?"))
    two_turns = render(tok, [*user("hi"), {"role": "assistant", "content": "hello"}, *user("What is 2+2?")])
    body = {"query": [one_turn + "4<|im_end|>", two_turns + "4", "plain prompt: answer"],
            "prompts": [one_turn, two_turns, "plain prompt: "], "labels": [None, None, None]}
    prompts, responses = score_request(body, frame)
    assert prompts[0] == user("What is 2+2?") and responses[0] == "4"
    assert prompts[1] == user(two_turns) and responses[1] == "4"  # not one user turn: the text as it stands
    assert prompts[2] == user("plain prompt: ") and responses[2] == "answer"
    assert score_request({"query": ["whole text"]}, frame) == ([[]], ["whole text"])
    with pytest.raises(RequestError, match=r"query\[1\]: does not start with prompts\[1\]"):
        score_request({"query": ["ab", "cd"], "prompts": ["a", "x"]}, frame)


def test_score_batches_concurrent_requests_and_matches_bt_score(tiny_bt_dir, tiny_model_dir, serve):
    from genrm import load_judge
    from genrm.data.chat import render
    from genrm.models import load_tokenizer

    bt = load_judge(str(tiny_bt_dir), max_length=96)
    judge = CountingPointwise(bt)
    server = serve(judge, batch_size=64, max_wait_ms=400)
    templated = render(load_tokenizer(str(tiny_model_dir)), user("List three fruits"))
    requests = [([f"What is {i}+{i}? "] * 2, [f"The answer is {2 * i}.", "the lazy dog " * (i + 1)]) for i in range(7)]
    requests.append(([templated], ["apple, banana<|im_end|>"]))
    answers = concurrently([lambda p=p, r=r: post(server.url + "/score", {"query": [a + b for a, b in zip(p, r)],
                                                                          "prompts": p, "labels": ["x"] * len(p)})
                            for p, r in requests])
    expected = [bt.score([user(t) for t in p], r) for p, r in requests[:-1]]
    expected.append(bt.score([user("List three fruits")], ["apple, banana"]))
    for (status, body, _), want in zip(answers, expected):
        assert status == 200, body
        assert body["rewards"] == pytest.approx(want, abs=1e-5) and body["scores"] == body["rewards"]
        assert body["extra_logs"] == {}
    assert len(judge.calls) < len(requests) and max(judge.calls) > 2  # gathered across requests
    stats = server.health()["stats"]
    assert stats["judge_calls"] == len(judge.calls) and stats["most_requests_per_call"] > 1
    # a conversation over --max-length: a 400 for that request only, then the server still answers
    status, body, _ = post(server.url + "/score", {"query": ["q " + "long " * 100], "prompts": ["q "]})
    assert status == 400 and "over the judge's limit of 96 tokens" in body["error"]
    assert post(server.url + "/get_reward", {"query": ["qa"], "prompts": ["q"]})[1]["rewards"] == \
        pytest.approx(bt.score([user("q")], ["a"]), abs=1e-5)


def test_judge_batches_pairwise_requests_and_matches_judge(tiny_model_dir, serve):
    from genrm import load_judge

    indicator = load_judge(str(tiny_model_dir), template="indicator-compact")
    judge = Counting(indicator)
    server = serve(judge, batch_size=64, max_wait_ms=400)
    items = [[{"prompt": f"What is {i}+2?", "first": f"It is {i + 2}.", "second": "the quick brown fox " * (i % 3 + 1)},
              {"prompt": user("List three fruits"), "first": [{"role": "assistant", "content": "apple"}],
               "second": "banana, dog", "id": f"fruits-{i}"}] for i in range(6)]
    answers = concurrently([lambda b=b: post(server.url + "/judge", {"pairs": b}) for b in items])
    for batch, (status, body, _) in zip(items, answers):
        assert status == 200, body
        pairs = [PreferencePair(id=str(item.get("id", k)), prompt=user(item["prompt"]) if k == 0 else item["prompt"],
                                chosen=[{"role": "assistant", "content": item["first"]}] if k == 0 else item["first"],
                                rejected=[{"role": "assistant", "content": item["second"]}], subset="serve", source="t")
                 for k, item in enumerate(batch)]
        for got, want in zip(body["judgments"], indicator.judge(pairs)):
            assert got["p_first"] == pytest.approx(want.p_chosen, abs=1e-5)
            assert got["p_first_as_given"] == pytest.approx(want.p_chosen_first, abs=1e-5)
            assert got["p_first_swapped"] == pytest.approx(want.p_chosen_second, abs=1e-5)
            assert got["verdict"] == {"chosen": "first", "rejected": "second", "tie": "tie"}[want.verdict]
        assert [j["id"] for j in body["judgments"]] == ["0", batch[1]["id"]]
    assert len(judge.calls) < len(items) and max(judge.calls) > 2
    # a pairwise judge gives no pointwise reward: /score says to use /judge, invents nothing
    status, body, _ = post(server.url + "/score", {"query": ["qa"], "prompts": ["q"]})
    assert status == 400 and "/judge" in body["error"] and "rewards" not in body
    assert server.health()["kind"] == "genrm" and server.health()["pointwise"] is False


def test_bad_requests_get_json_errors_naming_the_field(serve):
    server = serve(LengthJudge(), max_body_bytes=2000)
    cases = [("/score", b"{not json", 400, "not valid JSON"),
             ("/score", [1, 2], 400, "expected a JSON object"),
             ("/score", {"prompts": ["a"]}, 400, "query: missing field"),
             ("/score", {"query": ["ok", 3]}, 400, "query[1]: expected a string, got int"),
             ("/score", {"query": ["ab"], "prompts": ["a", "b"]}, 400, "prompts: 2 items for 1 queries"),
             ("/judge", {"pairs": "x"}, 400, "pairs: expected a list"),
             ("/judge", {"pairs": [{"prompt": "p", "first": "a", "second": "b"}, {"prompt": "p", "first": "a"}]},
              400, "pairs[1].second: missing field"),
             ("/judge", {"pairs": [{"prompt": "p", "first": "a", "second": [{"role": "user", "content": "b"}]}]},
              400, "pairs[0].second[0].role"),
             ("/judge", {"pairs": [{"prompt": "", "first": "a", "second": "b"}]}, 400, "pairs[0].prompt: empty"),
             ("/score", {"query": ["x" * 3000]}, 413, "exceeds the limit of 2000 bytes"),
             ("/nowhere", {}, 404, "no such endpoint")]
    for path, body, status, message in cases:
        got_status, got, _ = post(server.url + path, body)
        assert (got_status, message in got.get("error", "")) == (status, True), (path, got)
    status, body, _ = post(server.url + "/score", {"query": ["Qhello"], "prompts": ["Q"]})
    assert (status, body["rewards"]) == (200, [5.0])
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["kind"] == "length" and health["queue_depth"] == 0 and health["stats"]["requests"] == 1


def test_a_failing_request_does_not_fail_its_batch(serve):
    judge = CountingPointwise(LengthJudge())
    server = serve(judge, batch_size=64, max_wait_ms=400)
    texts = ["fine", "BOOM", "also fine", "TOO LONG", "ok"]
    answers = concurrently([lambda t=t: post(server.url + "/score", {"query": ["Q" + t], "prompts": ["Q"]})
                            for t in texts])
    by_text = dict(zip(texts, answers))
    for t in ("fine", "also fine", "ok"):
        assert by_text[t][:2] == (200, {"rewards": [float(len(t))], "scores": [float(len(t))], "extra_logs": {}})
    assert by_text["BOOM"][0] == 500 and "RuntimeError: boom" in by_text["BOOM"][1]["error"]
    assert by_text["TOO LONG"][0] == 400 and "max_length" in by_text["TOO LONG"][1]["error"]
    assert max(judge.calls) > 1 and server.health()["stats"]["failed_calls"] >= 3
    assert post(server.url + "/score", {"query": ["Qabc"], "prompts": ["Q"]})[1]["rewards"] == [3.0]


def test_full_queue_is_503_and_stop_answers_every_accepted_request():
    gate = threading.Event()
    judge = CountingPointwise(LengthJudge(), gate=gate)
    server = JudgeServer(judge, port=0, batch_size=1, max_wait_ms=0, queue_size=3).start()
    url = server.url

    def score(text):
        return lambda: post(url + "/score", {"query": ["Q" + text], "prompts": ["Q"]})

    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(score("a"))
        assert judge.entered.wait(10)  # the worker holds "a" inside the judge
        queued = [pool.submit(score(t)) for t in ("bb", "ccc", "dddd")]
        deadline = time.monotonic() + 10
        while server.batcher.queue.qsize() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        status, body, headers = post(url + "/score", {"query": ["Qx"], "prompts": ["Q"]})
        assert status == 503 and "queue is full" in body["error"] and headers["Retry-After"] == "1"
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        time.sleep(0.2)
        assert stopper.is_alive()  # still answering the accepted requests
        gate.set()
        stopper.join(20)
        assert not stopper.is_alive()
        got = [f.result()[:2] for f in (first, *queued)]
    assert got == [(200, {"rewards": [float(n)], "scores": [float(n)], "extra_logs": {}}) for n in (1, 2, 3, 4)]
    assert judge.calls == [1, 1, 1, 1]
    with pytest.raises(urllib.error.URLError):
        post(url + "/score", {"query": ["Qa"], "prompts": ["Q"]}, timeout=5)


def test_genrm_serve_command_prints_one_line_and_exits_0_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "genrm.cli", "serve", "length", "--port", "0", "--max-wait-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "length judge" in line and "http://127.0.0.1:" in line, proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        assert post(url + "/score", {"query": ["Qabc"], "prompts": ["Q"]})[:2] == \
            (200, {"rewards": [3.0], "scores": [3.0], "extra_logs": {}})
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "" and err == ""


@pytest.fixture(scope="module")
def cot_judge(tiny_model_dir, tmp_path_factory):
    """A CoT judge on the tiny verdict model (test_cot): 3 votes per order, both orders, adaptive."""
    from genrm import load_judge

    path = build_verdict_model(tiny_model_dir, tmp_path_factory.mktemp("serve-verdict"))
    return load_judge(str(path), kind="cot", votes=3, max_new_tokens=12)


def test_cache_keys_are_content_and_the_lru_is_bounded():
    pair = judge_request({"pairs": [{"prompt": "p", "first": "a", "second": "b", "id": "x"}]})[0]
    same = judge_request({"pairs": [{"prompt": [{"role": "user", "content": "p"}], "first": "a", "second": "b"}]})[0]
    swapped = judge_request({"pairs": [{"prompt": "p", "first": "b", "second": "a"}]})[0]
    assert keyed("judge", pair)[0] == keyed("judge", same)[0] != keyed("judge", swapped)[0]
    shown = content_pair(pair)
    assert (shown.id, shown.prompt, shown.chosen, shown.rejected) == (keyed("judge", pair)[0], pair.prompt, pair.chosen,
                                                                      pair.rejected)
    assert keyed("score", (user("p"), "a"))[0] not in (keyed("score", (user("p"), "b"))[0], keyed("judge", pair)[0])
    cache = LRU(2)
    cache.put("a", 1.0)
    cache.put("b", 2.0)
    assert cache.get("a") == 1.0  # a is now the most recent: c evicts b
    cache.put("c", 3.0)
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, 1.0, 3.0)
    assert cache.stats() == {"capacity": 2, "size": 2, "hits": 3, "misses": 1, "evictions": 1, "hit_rate": 0.75}
    off = LRU(0)
    off.put("a", 1.0)
    assert off.get("a") is None and off.stats()["size"] == 0 and off.stats()["misses"] == 0
    with pytest.raises(ValueError, match="at least 0"):
        LRU(-1)


def test_repeats_cost_no_judge_call_and_duplicates_are_judged_once(serve):
    judge = CountingPointwise(LengthJudge())
    server = serve(judge, batch_size=64, max_wait_ms=300, cache_size=3)

    def score(*texts):
        return post(server.url + "/score", {"query": ["Q" + t for t in texts], "prompts": ["Q"] * len(texts)})

    answers = concurrently([lambda: score("aa", "bbb", "aa"), lambda: score("bbb", "c")])
    assert [a[1]["rewards"] for a in answers] == [[2.0, 3.0, 2.0], [3.0, 1.0]]
    assert sum(judge.calls) == 3  # aa, bbb, c: each distinct item judged once
    calls = list(judge.calls)
    assert score("c", "aa", "bbb")[1]["rewards"] == [1.0, 2.0, 3.0] and judge.calls == calls  # all cached
    assert score("dddd")[1]["rewards"] == [4.0] and judge.calls == [*calls, 1]  # a 4th entry evicts c, the least recent
    assert score("aa")[1]["rewards"] == [2.0] and judge.calls == [*calls, 1]
    assert score("c")[1]["rewards"] == [1.0] and judge.calls == [*calls, 1, 1]
    health = server.health()
    assert health["cache"]["evictions"] == 2 and health["cache"]["size"] == 3 and health["stats"]["judged"] == 5
    uncached = serve(CountingPointwise(LengthJudge()), cache_size=0)
    for _ in range(2):
        post(uncached.url + "/score", {"query": ["Qab"], "prompts": ["Q"]})
    assert uncached.judge.calls == [1, 1] and uncached.health()["cache"]["hits"] == 0


def test_a_repeat_waiting_behind_its_original_is_not_judged_again(serve):
    gate = threading.Event()
    judge = CountingPointwise(LengthJudge(), gate)
    server = serve(judge, batch_size=64, max_wait_ms=0)

    def score():
        return post(server.url + "/score", {"query": ["Qaa"], "prompts": ["Q"]})[1]["rewards"]

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(score)
        assert judge.entered.wait(30)  # the original is inside its judge call
        second = pool.submit(score)
        deadline = time.time() + 30
        while server.batcher.queue.qsize() == 0:  # the repeat missed the cache and waits for the worker
            assert time.time() < deadline
            time.sleep(0.01)
        gate.set()
        assert first.result() == second.result() == [2.0]
    assert judge.calls == [1] and server.health()["stats"]["judged"] == 1


def test_cot_judge_served_gives_the_direct_answers_and_repeats_cost_nothing(cot_judge, serve):
    from genrm.judges.tournament import group_rewards

    judge = Counting(cot_judge)
    server = serve(judge, batch_size=64, max_wait_ms=300)
    requests = [[{"prompt": "What is 2+3?", "first": "The answer is 5.", "second": "The answer is 6.", "id": "r0"},
                 {"prompt": "What is 1+1?", "first": "2", "second": "It is 3."}],
                [{"prompt": "What is 4+4?", "first": "8", "second": "9"},
                 {"prompt": "What is 2+3?", "first": "The answer is 5.", "second": "The answer is 6.", "id": "again"}]]
    answers = concurrently([lambda r=r: post(server.url + "/judge", {"pairs": r}) for r in requests])
    assert sum(judge.calls) == 3  # the pair sent twice is judged once
    for items, (status, body, _) in zip(requests, answers):
        assert status == 200, body
        pairs = judge_request({"pairs": items})
        want = [judgment_answer(p, j) for p, j in zip(pairs, cot_judge.judge(pairs))]
        assert body["judgments"] == want  # p, votes (3 per order at most), both orders' values, rationales
        assert all(set(j["votes"]) == {"first", "second", "unparsed"} and "p_first_swapped" in j for j in want)
    calls = list(judge.calls)
    status, again, _ = post(server.url + "/judge", {"pairs": requests[1][::-1]})
    assert status == 200 and judge.calls == calls  # from the cache, each with its own id
    assert [j.pop("id") for j in again["judgments"]] == ["again", "1"]
    assert again["judgments"] == [{k: v for k, v in j.items() if k != "id"} for j in answers[1][1]["judgments"][::-1]]
    group = {"prompt": "What is 2+3?", "completions": ["The answer is 5.", "5", "The answer is 6.", "5"]}
    status, body, _ = post(server.url + "/group_reward", group)
    direct = group_rewards(lambda ps: [j.p_chosen for j in cot_judge.judge(ps)], [(user(group["prompt"]),
                                                                                   group["completions"])])[0]
    assert status == 200 and body == group_answer(direct)
    calls = list(judge.calls)
    assert post(server.url + "/group_reward", group)[1] == body and judge.calls == calls  # every match cached
    cache = server.health()["cache"]
    assert cache["hits"] >= 2 + 3 and cache["size"] == 3 + 3
    # bad requests name the field
    for path, bad, message in [("/judge", {"pairs": [{"prompt": "p", "second": "b"}]}, "pairs[0].first: missing field"),
                               ("/group_reward", {"prompt": "p", "completions": ["a", 3]}, "completions[1]: "),
                               ("/group_reward", {"prompt": "p", "completions": ["a"], "k": 0}, "k: must be at least 1"),
                               ("/score", {"query": ["qa"]}, "POST pairs to /judge")]:
        status, got, _ = post(server.url + path, bad)
        assert status == 400 and message in got["error"], (path, got)


def test_one_order_cot_judge_is_served_by_content(cot_judge, serve):
    from genrm.judges.cot import CoTJudge

    one = CoTJudge(cot_judge.generator, votes=2, max_new_tokens=12, both_orders=False)
    server = serve(one, max_wait_ms=1)
    items = [{"prompt": f"What is {i}+1?", "first": f"{i + 1}", "second": f"{i + 2}", "id": f"q{i}"} for i in range(6)]
    status, body, _ = post(server.url + "/judge", {"pairs": items})
    pairs = judge_request({"pairs": items})
    assert status == 200 and body["judgments"] == [judgment_answer(p, j) for p, j in
                                                   zip(pairs, one.judge([content_pair(p) for p in pairs]))]
    shown = {("p_first_as_given" in j, "p_first_swapped" in j) for j in body["judgments"]}
    assert shown == {(True, False), (False, True)}  # one order each, seeded by the content
    renamed = post(server.url + "/judge", {"pairs": [{**item, "id": "other"} for item in items]})[1]
    assert [{**j, "id": "x"} for j in renamed["judgments"]] == [{**j, "id": "x"} for j in body["judgments"]]


def serve_args(*argv, judge="JUDGE"):
    import argparse

    from genrm.commands import serve as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args([judge, "--port", "0", *argv])


def test_judge_options_reach_the_judge_and_other_kinds_refuse_them(tiny_model_dir, monkeypatch, capsys):
    from test_cot import ScriptedGenerator

    import genrm.judges.cot
    from genrm import load_judge
    from genrm.commands.serve import describe, judge_options, run

    args = serve_args("--votes", "2", "--orders", "one", "--max-new-tokens", "16", "--temperature", "0.5",
                      "--backend", "vllm", "--max-length", "512")
    options = judge_options(args, "cot")
    assert options == {"votes": 2, "both_orders": False, "max_new_tokens": 16, "temperature": 0.5, "backend": "vllm",
                       "max_length": 512}
    assert judge_options(serve_args("--orders", "both", "--max-length", "64"), "genrm") == {"both_orders": True,
                                                                                              "max_length": 64}
    assert judge_options(serve_args(), "bt") == {}
    for argv, kind, flag in [(("--votes", "2"), "bt", "--votes"), (("--backend", "hf"), "genrm", "--backend"),
                             (("--orders", "one"), "length", "--orders"), (("--max-length", "9"), "length", "--max-length")]:
        with pytest.raises(ValueError, match=f"{flag} does not apply to a {kind} judge"):
            judge_options(serve_args(*argv), kind)
    loaded = {}

    class VLLMStandIn(ScriptedGenerator):
        backend = "vllm"

    def load_generator(path, backend="hf", **generator_options):  # vLLM itself is not installed here
        loaded.update(path=path, backend=backend, **generator_options)
        return VLLMStandIn(["[[A]]"])

    monkeypatch.setattr(genrm.judges.cot, "load_generator", load_generator)
    judge = load_judge(str(tiny_model_dir), kind="cot", **options)
    assert loaded == {"path": str(tiny_model_dir), "backend": "vllm", "max_length": 512}
    assert (judge.votes, judge.both_orders, judge.params.max_new_tokens, judge.params.temperature) == (2, False, 16, 0.5)
    server = JudgeServer(judge, port=0).start()
    try:
        settings = server.health()["settings"]
        assert {k: settings[k] for k in ("votes", "both_orders", "backend")} == {"votes": 2, "both_orders": False,
                                                                               "backend": "vllm"}
        assert describe(server.health()) == ("2 votes per order, one order per pair, 16 new tokens at temperature 0.5, "
                                              "vllm backend, cache of 4096 answers")
        status, body, _ = post(server.url + "/judge", {"pairs": [{"prompt": "p", "first": "a", "second": "b"}]})
        assert status == 200 and body["judgments"][0]["votes"]["unparsed"] == 0
    finally:
        server.stop()
    assert run(serve_args("--votes", "3", judge="length")) == 1
    assert "--votes does not apply to a length judge" in capsys.readouterr().err
