# .venv/bin/python benchmarks/judge_throughput.py [--quick] [--pairs 16] [--votes 4] [--max-new-tokens 256]
"""Indicator-judge throughput vs a generative (CoT) judge, both judging both orders of each pair.

Same model, same pairs, same MT-Bench judge template family. The indicator judge scores both orders
with one last-position forward pass each. The CoT judge (genrm.judges.cot, the judge `genrm eval
--judge cot` runs) samples --votes rationales per order of up to --max-new-tokens tokens (adaptive
stopping off: every vote drawn) and majority-votes their `[[A]]`/`[[B]]` verdicts. --quick keeps
this shape at a smaller size (4 pairs, 2 votes, 64 tokens). Target (issue 7 item 1): >= 20x pairs/s.

Also printed: the CoT judge with its prompts prefilled in one batch (before 2026-12-02; now in row
groups within the CPU forward budget, genrm.forward_batches), prefill tokens/s of the indicator judge's
pass and the cost of one decode step at the batch size. From them, a cost model of the ratio: the
indicator pays 2 prefills per pair, the CoT judge 2 prefills (shared across its votes) plus
2 x votes x tokens decode-row steps. On this CPU a decode
row-step costs about as much as prefilling a few tokens; on a GPU prefill runs at thousands of
tokens per second while a decode step at a small batch costs about the same wall time as on a CPU
(memory bound), so the ratio printed as "expected on a GPU" assumes prefill x`--gpu-prefill-speedup`
faster and decode steps x`--gpu-decode-speedup` faster; both are stated assumptions until the
benchmark runs on a GPU (README Performance).
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch
from compute_efficiency import EARLIER_BUDGET, earlier_path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@torch.no_grad()
def costs(judge, prompts, steps: int = 16) -> tuple[float, float]:
    """(prefill tokens/s, ms per decode step) on one left-padded batch of `prompts` (the prefill
    figure is that of one large batch; main() reports the indicator judge's own rate)."""
    from transformers import GenerationConfig

    from genrm.data.chat import chat_ids
    from genrm.forward_batches import left_pad

    tok = judge.tokenizer
    batch = left_pad(chat_ids(tok, prompts), tok.pad_token_id, "cpu")
    start = time.perf_counter()
    judge.model(**batch, logits_to_keep=1)
    prefill_s = time.perf_counter() - start
    times = []
    for n in (1, steps + 1):  # the difference is `steps` decode steps
        config = GenerationConfig(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
        start = time.perf_counter()
        judge.model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], generation_config=config)
        times.append(time.perf_counter() - start)
    return int(batch["attention_mask"].sum()) / prefill_s, 1000 * (times[1] - times[0]) / steps


def main() -> None:
    from genrm.data.chat import chat_ids
    from genrm.data.pairs import load_pairs
    from genrm.generation.hf import HFGenerator
    from genrm.judges.cot import CoTJudge
    from genrm.judges.indicator import IndicatorJudge
    from genrm.judges.prompts import judge_messages

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 pairs, 2 votes, 64 new tokens (a few minutes)")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--votes", type=int, default=4, help="CoT rationales per order")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--gpu-prefill-speedup", type=float, default=100.0, help="assumed, see the docstring")
    ap.add_argument("--gpu-decode-speedup", type=float, default=10.0, help="assumed, see the docstring")
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.votes, args.max_new_tokens = 4, 2, 64
    pairs = list(load_pairs(DATA / "mtbench_human_llmbar.jsonl"))[: args.pairs]

    judge = IndicatorJudge.from_pretrained(args.model, dtype=torch.float32)
    judge.judge(pairs[:2], batch_size=args.batch_size)  # warm-up
    start = time.perf_counter()
    judge.judge(pairs, batch_size=args.batch_size)
    indicator_s = time.perf_counter() - start

    generator = HFGenerator(judge.model, judge.tokenizer, batch_size=args.batch_size)
    cot = CoTJudge(generator, votes=args.votes, max_new_tokens=args.max_new_tokens, both_orders=True, adaptive=False)
    start = time.perf_counter()
    verdicts = cot.judge(pairs, batch_size=args.batch_size)
    generative_s = time.perf_counter() - start
    tokens = cot.tokens_generated
    unparsed = sum(not v.parsed for v in verdicts)
    with earlier_path():  # the prompts' prefill in one batch, as before 2026-12-02
        start = time.perf_counter()
        whole = cot.judge(pairs, batch_size=args.batch_size)
        whole_s = time.perf_counter() - start
    same = sum(a.p_chosen == b.p_chosen for a, b in zip(verdicts, whole))

    prompts = [judge_messages(p, chosen_first=True, template="cot") for p in pairs]
    _, step_ms = costs(judge, prompts[: args.batch_size])
    shown = [judge_messages(p, first, judge.template) for p in pairs for first in (True, False)]
    prefill_rate = sum(map(len, chat_ids(judge.tokenizer, shown))) / indicator_s  # the indicator judge's own pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ind_rate, gen_rate = len(pairs) / indicator_s, len(pairs) / generative_s
    rationale = tokens / max(1, 2 * args.votes * len(pairs))
    print(f"model={args.model} pairs={len(pairs)} batch={args.batch_size} threads={torch.get_num_threads()} "
          f"peak RSS {rss:.0f} MB")
    print(f"indicator (both orders): {ind_rate:.3f} pairs/s ({indicator_s:.1f} s)")
    print(f"CoT (both orders, {args.votes} votes each, <= {args.max_new_tokens} new tokens): {gen_rate:.3f} pairs/s "
          f"({generative_s:.1f} s, {tokens} tokens generated, {rationale:.0f} per rationale, {unparsed} pairs without a verdict)")
    print(f"CoT with the prompts' prefill in one batch of up to {EARLIER_BUDGET} tokens (before 2026-12-02): "
          f"{whole_s:.1f} s; now {whole_s / generative_s:.2f}x faster, same p_chosen on {same}/{len(pairs)} pairs")
    print(f"prefill {prefill_rate:.0f} tokens/s (the indicator judge's pass); one decode step at batch "
          f"{args.batch_size}: {step_ms:.0f} ms")
    ratio = ind_rate / gen_rate
    # cost model per pair: indicator 2 prompt prefills; CoT 2 prefills + 2 x votes x rationale row-steps
    rows = chat_ids(judge.tokenizer, prompts)
    prompt_tokens = sum(len(r) for r in rows) / len(rows)
    prefill_s, row_step_s = prompt_tokens / prefill_rate, step_ms / 1000 / args.batch_size

    def model_ratio(prefill_x: float, decode_x: float) -> float:
        p, d = prefill_s / prefill_x, row_step_s / decode_x
        return (2 * p + 2 * args.votes * rationale * d) / (2 * p)
    print(f"ratio: {ratio:.1f} measured; cost model {model_ratio(1, 1):.1f} on this CPU, "
          f"{model_ratio(args.gpu_prefill_speedup, args.gpu_decode_speedup):.1f} expected on a GPU (assumed prefill "
          f"x{args.gpu_prefill_speedup:g}, decode x{args.gpu_decode_speedup:g})")
    print(f"summary: indicator vs CoT judging (both orders, {args.votes} votes, {rationale:.0f}-token rationales) "
          f"{ratio:.1f}x on this CPU (target >= 20x) {'MET' if ratio >= 20 else 'NOT MET'}, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
