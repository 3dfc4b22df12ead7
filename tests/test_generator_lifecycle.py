"""Generators are closed: HF frees its model, vLLM shuts its engine down by the API its version has,
and STaR, RAFT and best-of-N close their sampler before training (or when done); STaR keeps one
engine through a run where the backend sleeps and reloads weights. STaR sends a whole
shard per call to a generator that schedules its own batches."""
from __future__ import annotations

import gc
import json
import weakref

import pytest
from test_cot import make_pairs

from genrm.generation.base import Closing, Completion

PROMPTS = [[{"role": "user", "content": "What is 2+2?"}], [{"role": "user", "content": "Say hello."}]]


class Recorder(Closing):
    """A Generator whose sample j is texts[j % len]: records each generate call and close in `events`."""

    tokenizer = None

    def __init__(self, events: list, texts=("[[A]]", "[[B]]"), batch_size: int | None = None):
        self.events, self.texts, self.batch_size = events, texts, batch_size

    def generate(self, prompts, params, progress=False, first_index=0):
        self.check_open()
        self.events.append(("generate", len(prompts), params.n))
        return [[Completion(self.texts[(first_index + j) % len(self.texts)], 3, True) for j in range(params.n)]
                for _ in prompts]

    def close(self):
        self.closed = True
        self.events.append("close")


def test_hf_close_frees_the_model(tiny_model_dir):
    from genrm.generation.base import Generator, SamplingParams, load_generator

    params = SamplingParams(n=2, max_new_tokens=4, seed=1)
    with load_generator(str(tiny_model_dir), backend="hf", batch_size=2) as generator:
        assert isinstance(generator, Generator)
        model = weakref.ref(generator.model)
        first = [[c.text for c in row] for row in generator.generate(PROMPTS, params)]
    gc.collect()
    assert generator.closed and model() is None  # nothing kept the model alive
    with pytest.raises(RuntimeError, match="closed"):
        generator.generate(PROMPTS, params)
    generator.close()  # a second close is harmless
    again = load_generator(str(tiny_model_dir), backend="hf", batch_size=2)
    assert [[c.text for c in row] for row in again.generate(PROMPTS, params)] == first
    again.close()


class _Has:
    """An object whose `shutdown` records `name` (for the vLLM API fakes)."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def shutdown(self):
        self.log.append(self.name)


class _Bare:
    pass


def _llm(log, *apis):
    """A fake vllm.LLM exposing the shutdown APIs named in `apis`."""
    llm, engine = (_Has(log, "LLM") if "LLM" in apis else _Bare()), (_Has(log, "LLMEngine") if "LLMEngine" in apis else _Bare())
    for part in ("engine_core", "model_executor"):
        if part in apis:
            setattr(engine, part, _Has(log, part))
    llm.llm_engine = engine
    return llm


def test_vllm_close_uses_the_first_shutdown_api_its_version_has(monkeypatch):
    from genrm.generation import vllm as backend

    cases = [(("LLM", "LLMEngine", "engine_core"), "LLM.shutdown", ["LLM"]),
             (("LLMEngine", "engine_core"), "LLMEngine.shutdown", ["LLMEngine"]),
             (("engine_core", "model_executor"), "engine_core.shutdown", ["engine_core"]),  # vLLM 0.8 .. 0.32 (V1)
             (("model_executor",), "model_executor.shutdown", ["model_executor"])]  # V0 engines
    released = []
    monkeypatch.setattr(backend, "release_parallel_state", lambda: released.append(True))
    for apis, used, called in cases:
        log = []
        generator = backend.VLLMGenerator(_llm(log, *apis), tokenizer=None)
        engine = weakref.ref(generator.llm)
        with generator:
            pass
        gc.collect()
        assert (generator.shutdown_api, log, engine()) == (used, called, None)
        generator.close()
        assert log == called  # closing twice shuts down once
    assert len(released) == len(cases)
    monkeypatch.setattr(backend, "_version", lambda: "0.0-test")
    with pytest.warns(RuntimeWarning, match="0.0-test: none of LLM.shutdown"):
        backend.VLLMGenerator(_llm([]), tokenizer=None).close()


def test_star_sends_whole_shards_and_closes_each_generator_before_what_follows(tiny_model_dir, tmp_path, monkeypatch):
    from genrm.star import loop, run_star

    events: list = []
    monkeypatch.setattr(loop, "generator_for", lambda model, cfg: Recorder(events))

    def train(run, cfg, i, current):
        events.append("train")
        return {"checkpoint": current, "steps": 0, "loss": None}

    monkeypatch.setattr(loop, "launch_train", train)
    config = {"iterations": 2, "shards": 2, "samples": 2, "eval_baseline": True, "balance": "none",
              "sampling": {"max_new_tokens": 8, "batch_size": 3}, "eval": {"votes": 1, "adaptive": False}}
    run_star(tmp_path / "run", method="dpo", model=str(tiny_model_dir), train_pairs=make_pairs(10),
             eval_pairs=make_pairs(2, seed=9), config=config, progress=False)
    shard = ("generate", 10, 2)  # 5 pairs x 2 orders, in one call of 2 samples each (batch_size None)
    evaluation = events[:events.index(shard)]  # the baseline judge, whose generator then samples the first shard
    assert evaluation and all(e[0] == "generate" for e in evaluation)
    assert events == evaluation + [shard, "close", "train"] + evaluation + [shard, "close", "train"] + evaluation + ["close"]


class Sleeper(Recorder):
    """A Recorder that sleeps and takes new weights, as a vLLM engine with sleep mode does."""

    def sleep(self):
        self.events.append("sleep")
        return True

    def load_weights(self, model):
        self.events.append(("load", model))
        return True


def test_star_keeps_one_engine_asleep_through_training_and_reloads_its_weights(tiny_model_dir, tmp_path, monkeypatch):
    from genrm.star import loop, run_star

    events: list = []
    made = []
    monkeypatch.setattr(loop, "generator_for", lambda model, cfg: made.append(model) or Sleeper(events))

    def train(run, cfg, i, current):
        events.append("train")
        return {"checkpoint": current, "steps": 0, "loss": None}

    monkeypatch.setattr(loop, "launch_train", train)
    config = {"iterations": 2, "shards": 2, "samples": 2, "eval_baseline": True, "balance": "none",
              "sampling": {"max_new_tokens": 8}, "eval": {"votes": 1, "adaptive": False}}
    run_star(tmp_path / "run", method="dpo", model=str(tiny_model_dir), train_pairs=make_pairs(10),
             eval_pairs=make_pairs(2, seed=9), config=config, progress=False)
    shard, reload = ("generate", 10, 2), ("load", str(tiny_model_dir))
    evaluation = events[:events.index(shard)]
    assert made == [str(tiny_model_dir)]  # one engine for the whole run
    assert events == (evaluation + [shard, "sleep", "train", reload] + evaluation + [shard, "sleep", "train", reload]
                      + evaluation + ["close"])


def test_slot_starts_a_new_generator_where_the_old_cannot_take_the_weights():
    from genrm.generation.base import GeneratorSlot

    events: list = []
    with GeneratorSlot(lambda model: events.append(("make", model)) or Recorder(events)) as slot:
        first = slot.get("m0")
        assert slot.get("m0") is first and events == [("make", "m0")]  # the same model: the same generator
        second = slot.get("m1")  # an HF generator takes no new weights: closed, and a new one made
        assert second is not first and events == [("make", "m0"), "close", ("make", "m1")]
        slot.free()  # it cannot sleep: closed
        assert events[-1] == "close" and slot.generator is None
    assert events.count("close") == 2


def test_star_samples_in_batch_size_chunks_or_scheduled_chunks_with_the_same_rows(tmp_path, monkeypatch):
    from genrm.generation.base import SamplingParams
    from genrm.star import samples as S

    items = S.plan(make_pairs(4), both_orders=True)
    params = SamplingParams(max_new_tokens=4, seed=3)
    runs = {}
    for name, batch_size in (("hf", 3), ("scheduled", None), ("scheduled-3", None)):
        if name == "scheduled-3":
            monkeypatch.setattr(S, "SCHEDULED_CHUNK", 3)
        events: list = []
        runs[name] = S.sample(Recorder(events, batch_size=batch_size), items, 2, params, tmp_path / f"{name}.jsonl",
                              chunk=batch_size)
        assert [e[1] for e in events] == {"hf": [3, 3, 2], "scheduled": [8], "scheduled-3": [3, 3, 2]}[name]
    assert runs["hf"] == runs["scheduled"] == runs["scheduled-3"]


def _prompts(path):
    path.write_text("".join(json.dumps({"id": f"q{i}", "prompt": q}) + "\n"
                            for i, q in enumerate(["What is 2+2?", "Say hello.", "List three fruits."])))
    return path


def test_raft_closes_its_sampler_before_training(tiny_model_dir, tiny_bt_dir, tmp_path, monkeypatch):
    from genrm.generation import base
    from genrm.policy.raft import Raft
    from genrm.train import sft

    events: list = []
    monkeypatch.setattr(base, "sampling_generator", lambda policy, s: Recorder(events, texts=("hello", "four")))

    def train(model, examples, out_dir, config=None, card=None):
        events.append("train")
        return out_dir / "checkpoint"

    monkeypatch.setattr(sft, "train_sft", train)
    Raft(tmp_path / "run", {"policy": str(tiny_model_dir), "judge": str(tiny_bt_dir), "prompts": str(_prompts(tmp_path / "p.jsonl")),
                            "iterations": 2, "n": 2, "chunk_size": 2, "sampling": {"max_new_tokens": 4}}).run_all()
    sampling = [("generate", 2, 2), ("generate", 1, 2), "close"]
    assert events == sampling + ["train"] + sampling + ["train"] + sampling  # the last: eval_final


def test_best_of_n_closes_its_sampler_when_done(tiny_model_dir, tiny_bt_dir, tmp_path, monkeypatch):
    from genrm.generation import base
    from genrm.policy.bon import BonConfig, stream

    events: list = []
    monkeypatch.setattr(base, "sampling_generator", lambda policy, s: Recorder(events, texts=("hello", "four")))
    rows = stream(str(tiny_model_dir), str(tiny_bt_dir), _prompts(tmp_path / "p.jsonl"), 2, tmp_path / "bon.jsonl",
                  BonConfig(chunk_size=2), progress=False)
    assert len(rows) == 3 and events == [("generate", 2, 2), ("generate", 1, 2), "close"]


def test_only_restricts_the_sampled_token_on_both_backends(tiny_model_dir):
    """A forced verdict re-rendered on a backend without cue probabilities (vLLM) samples its one
    letter from A and B only, as the transformers backend reads it: `SamplingParams.only`."""
    from genrm.generation.base import SamplingParams
    from genrm.generation.hf import HFGenerator, single_tokens
    from genrm.generation.vllm import VLLMGenerator

    gen = HFGenerator.from_pretrained(str(tiny_model_dir), batch_size=4)
    letters = ("A", "B")
    allowed = set(single_tokens(gen.tokenizer, letters))
    rows = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    for temperature in (0.0, 1.0):
        params = SamplingParams(n=3, temperature=temperature, max_new_tokens=1, seed=1, only=letters)
        for samples in gen.generate_ids(rows, params):
            assert all(set(s.token_ids) <= allowed and s.text in letters for s in samples)

    class FakeLLM:  # records what the vLLM backend asks the engine for
        def __init__(self):
            self.settings = None

        def generate(self, requests, sampling_params, use_tqdm=False):
            from types import SimpleNamespace

            self.settings = sampling_params
            return [SimpleNamespace(outputs=[SimpleNamespace(text="A", token_ids=[1], finish_reason="length")])
                    for _ in requests]

    pytest.importorskip("vllm")
    llm = FakeLLM()
    VLLMGenerator(llm, gen.tokenizer).generate_ids(rows, SamplingParams(max_new_tokens=1, only=letters))
    assert all(set(s.allowed_token_ids) == allowed for s in llm.settings)
