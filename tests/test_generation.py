"""HF generation backend: seeded determinism independent of batch layout, shared prefill, EOS; vLLM lazy."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROMPTS = [[{"role": "user", "content": "What is 2+2? " * k}] for k in (1, 4, 2)]


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    from genrm.generation.base import load_generator

    return load_generator(str(tiny_model_dir), backend="hf", batch_size=3)


def texts(result):
    return [[c.text for c in row] for row in result]


def test_same_seed_same_samples_at_any_batch_layout(generator):
    from genrm.generation.base import SamplingParams

    params = SamplingParams(n=3, max_new_tokens=10, seed=7)
    full = generator.generate(PROMPTS, params)
    assert len(full) == 3 and all(len(row) == 3 for row in full)
    assert len({c.text for row in full for c in row}) > 3  # sampling, not one repeated string
    generator.batch_size = 1
    assert texts(generator.generate(PROMPTS, params)) == texts(full)  # batch size
    assert texts(generator.generate(PROMPTS[1:2], params)) == texts(full[1:2])  # batch neighbours
    split = generator.generate(PROMPTS, SamplingParams(n=1, max_new_tokens=10, seed=7), first_index=2)
    assert [row[0].text for row in split] == [row[2].text for row in full]  # sample index, not call layout
    generator.share_prefill = False
    assert texts(generator.generate(PROMPTS, params)) == texts(full)  # shared prefill changes nothing
    other = generator.generate(PROMPTS, SamplingParams(n=3, max_new_tokens=10, seed=8))
    assert texts(other) != texts(full)
    generator.batch_size, generator.share_prefill = 3, True


def test_prefill_in_row_groups_within_the_token_budget_changes_no_sample(generator, monkeypatch):
    """The prompts' prefill runs in groups of rows that fit the forward-pass token budget and the
    caches are stacked: the samples are those of one whole-batch prefill and of generate's own."""
    from genrm import forward_batches
    from genrm.generation import hf
    from genrm.generation.base import SamplingParams

    params = SamplingParams(n=2, max_new_tokens=8, seed=3)
    whole = texts(generator.generate(PROMPTS, params))
    stacks, stacked = [], hf.stacked
    monkeypatch.setattr(hf, "stacked", lambda caches, config: stacks.append(len(caches)) or stacked(caches, config))
    monkeypatch.setitem(forward_batches.MAX_BATCH_TOKENS, "cpu", 8)  # every prompt is longer: one row per group
    for n in (1, 2):
        grouped = texts(generator.generate(PROMPTS, SamplingParams(n=n, max_new_tokens=8, seed=3)))
        assert grouped == [row[:n] for row in whole]
    assert stacks == [3, 3]  # one batch of 3 prompts, prefilled one row at a time, for each n
    generator.share_prefill = False  # generate prefills the whole batch itself
    assert texts(generator.generate(PROMPTS, params)) == whole
    generator.share_prefill = True


def test_greedy_and_token_counts(generator):
    from genrm.generation.base import SamplingParams

    greedy = generator.generate(PROMPTS, SamplingParams(n=2, temperature=0.0, max_new_tokens=6))
    for row in greedy:
        assert row[0].text == row[1].text
        assert all(c.num_tokens <= 6 and (c.finished or c.num_tokens == 6) for c in row)


def test_vllm_is_imported_only_by_its_backend():
    code = ("import sys, genrm.generation.base, genrm.generation.vllm, genrm.judges.cot, genrm.star, genrm.commands.star;"
            "assert 'vllm' not in sys.modules, 'vllm imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    try:
        import vllm  # noqa: F401
    except ImportError:
        from genrm.generation.base import load_generator

        with pytest.raises(ImportError, match="pip install"):
            load_generator("smollm2-135m", backend="vllm")


def test_cue_probabilities_continue_each_samples_kv_cache(tiny_model_dir):
    """After generate, the cue is fed through the kept cache: the same probabilities as one plain
    forward pass over prompt + sample + cue, for rows of different lengths, ended by EOS or not.
    Sharp attention (scaled queries and keys) makes positions and masks matter to the logits."""
    import torch

    from genrm.data.chat import chat_ids
    from genrm.forward_batches import common_prefix
    from genrm.generation.base import SamplingParams
    from genrm.generation.hf import HFGenerator

    gen = HFGenerator.from_pretrained(str(tiny_model_dir), batch_size=4, dtype=torch.float32)
    with torch.no_grad():
        for layer in gen.model.model.layers:
            layer.self_attn.q_proj.weight.mul_(30)
            layer.self_attn.k_proj.weight.mul_(30)
    tok = gen.tokenizer
    prompts = [[{"role": "user", "content": "What is 2+2? " * k}] for k in (1, 4, 9, 2)]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=6)
    first = gen.generate(prompts, greedy)[0][0].token_ids
    tok.eos_token = tok.convert_ids_to_tokens(first[2])  # the first prompt's sample now ends at its 3rd token
    params = SamplingParams(temperature=0.0, max_new_tokens=6, cue="\n\nFinal verdict: [[", cue_choices=("A", "B"))
    out = gen.generate(prompts, params)
    a, b = (tok.encode(x, add_special_tokens=False)[0] for x in ("A", "B"))
    cue = tok.encode(params.cue, add_special_tokens=False)
    assert {c.finished for row in out for c in row} == {True, False} and len(out[0][0].token_ids) == 2
    for prompt, (c,) in zip(prompts, out):
        (ids,) = chat_ids(tok, [prompt])
        with torch.no_grad():
            logits = gen.model(input_ids=torch.tensor([ids + list(c.token_ids) + cue])).logits[0, -1]
        assert c.cue_probs == pytest.approx(torch.softmax(logits[[a, b]], dim=-1).tolist(), abs=1e-4)
    # the prompts share their chat-template head: it was computed once (SharedPrefix), changing nothing
    assert common_prefix(chat_ids(tok, prompts)) >= gen.min_prefix
    for share_prefill, n in ((True, 1), (True, 2), (False, 2)):
        gen.share_prefill = share_prefill
        sampled = SamplingParams(n=n, max_new_tokens=6, seed=5, cue=params.cue, cue_choices=("A", "B"))
        runs = []
        for gen.share_prefix in (True, False):
            runs.append(gen.generate(prompts, sampled))
        for row_on, row_off in zip(*runs):
            for on, off in zip(row_on, row_off):
                assert on.token_ids == off.token_ids and on.cue_probs == pytest.approx(off.cue_probs, abs=1e-5)
