"""CoT-GenRM judge: sample rationales that end in a verdict tag, majority-vote over samples.

For each pair, `votes` samples per order with the `cot` template, both orders by default (else one
seeded random order per pair, prompts.shown_orders). The
last `[[A]]`/`[[B]]` tag of a sample is its verdict (prompts.parse_verdict); a sample with no tag
is counted as unparsed and left out of the vote. p_chosen = share of parsed votes for the chosen
response (0.5 with parsed=False when no sample parsed). `Judgment.votes` =
{"chosen", "rejected", "unparsed"}; `Judgment.rationales` = the sampled texts.

Adaptive stopping (default on) samples in rounds and stops a pair as soon as the votes still to
come cannot change the majority: with c votes for chosen, r for rejected and R samples left of the
budget (votes x orders), the verdict is settled once |c - r| > R. Each round draws the fewest
samples that could settle it. Because a sample's randomness depends only on (seed, prompt,
sample index) (see generation/hf.py), the verdict is identical to fixed-K voting on the HF
backend; p_chosen is the vote share among the samples actually drawn, so consumers of p_chosen
itself (round-robin ranking, rejection sampling, the RewardBench 2 Ties metric) call
`without_early_stop()` and draw every vote.

Forced verdicts (`force_verdict=True`, off by default): a sample that ends without a tag is
continued with "Final verdict: [[" and the letter is drawn from the model's probabilities of "A"
and "B" there at the sampling temperature (a stream seeded by the sample; at temperature 0 the
likelier letter), so a small model that rambles still commits to a verdict conditioned on its own
rationale. The HF backend reads those probabilities from the
sample's own KV cache (SamplingParams.cue: a few tokens, no second prefill); other backends
re-render prompt + sample + cue and sample one token.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from genrm.data.chat import chat_ids, plain_ids
from genrm.data.lengths import TooLong, apply_policy, too_long
from genrm.generation.base import Completion, SamplingParams, load_generator
from genrm.judges.prompts import ORDER_NAMES, chosen_position, judge_messages, parse_verdict, shown_orders
from genrm.types import Judgment, PreferencePair


@dataclass
class _Tally:
    """The samples drawn so far for one pair, per order (True = chosen shown first)."""

    texts: dict = field(default_factory=dict)  # chosen_first -> list[str]
    chosen: dict = field(default_factory=dict)  # chosen_first -> votes for chosen
    rejected: dict = field(default_factory=dict)
    unparsed: dict = field(default_factory=dict)
    tokens: list = field(default_factory=list)  # sampled tokens of each rationale
    forced: int = 0  # rationales whose verdict was forced
    sequence: dict = field(default_factory=dict)  # chosen_first -> [[vote, tokens], ...] in sample order

    def add(self, chosen_first: bool, text: str, tokens: int = 0, forced: bool = False) -> None:
        verdict = parse_verdict(text)
        self.texts.setdefault(chosen_first, []).append(text)
        self.tokens.append(tokens)
        self.forced += forced
        key = "unparsed" if not verdict.parsed else "chosen" if verdict.position == chosen_position(chosen_first) else "rejected"
        counts = getattr(self, key)
        counts[chosen_first] = counts.get(chosen_first, 0) + 1
        self.sequence.setdefault(chosen_first, []).append([key, tokens])

    def drawn(self, chosen_first: bool) -> int:
        return len(self.texts.get(chosen_first, []))

    def lead(self) -> int:
        return abs(sum(self.chosen.values()) - sum(self.rejected.values()))


def next_round(tally: _Tally, orders: tuple[bool, ...], votes: int, adaptive: bool) -> dict[bool, int]:
    """Samples to draw next for this pair, per order ({} = the verdict is settled or the budget spent)."""
    left = {o: votes - tally.drawn(o) for o in orders}
    remaining = sum(left.values())
    if not adaptive or remaining <= 0:
        return {o: n for o, n in left.items() if n > 0}
    if tally.lead() > remaining:
        return {}
    x = (remaining - tally.lead()) // 2 + 1  # the fewest further samples that could settle it: lead + x > remaining - x
    plan = dict.fromkeys(orders, 0)
    for _ in range(x):  # one at a time to the order with the most budget left: the orders stay balanced
        o = max(orders, key=lambda o: left[o] - plan[o])
        plan[o] += 1
    return {o: n for o, n in plan.items() if n > 0}


VERDICT_CUE = "\n\nFinal verdict: [["
LETTERS = ("A", "B")


def verdict_params(params: SamplingParams, force_verdict: bool) -> SamplingParams:
    """`params`, asking the generator for the verdict letter's probabilities after VERDICT_CUE."""
    if not force_verdict:
        return params
    return SamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                          max_new_tokens=params.max_new_tokens, seed=params.seed, cue=VERDICT_CUE, cue_choices=LETTERS)


def force_verdicts(generator, prompts: Sequence[list], samples: list[list[Completion]], params: SamplingParams,
                   first_index: int = 0) -> list[list[Completion]]:
    """Samples with no verdict tag continued with VERDICT_CUE and a drawn letter (see above)."""
    import random

    from genrm.generation.hf import sample_seed

    out = [list(row) for row in samples]
    todo: dict[int, list[tuple[int, int]]] = {}
    for i, row in enumerate(samples):
        for j, c in enumerate(row):
            if parse_verdict(c.text).parsed:
                continue
            if c.cue_probs is None:  # a backend without cues: sample the letter after re-rendering
                todo.setdefault(first_index + j, []).append((i, j))
                continue
            u = random.Random(sample_seed(params.seed, f"verdict\0{prompts[i]}", first_index + j)).random()
            out[i][j] = forced(c, LETTERS[0] if u < letter_a(c.cue_probs, params.temperature) else LETTERS[1])
    one = SamplingParams(n=1, temperature=params.temperature, top_p=params.top_p, max_new_tokens=1, seed=params.seed,
                         only=LETTERS)  # the letter is A or B, as the backends with cue probabilities read it
    for index, members in todo.items():
        tok = generator.tokenizer
        heads = chat_ids(tok, [prompts[i] for i, _ in members])
        tails = plain_ids(tok, [samples[i][j].text + VERDICT_CUE for i, j in members])
        rows = [head + tail for head, tail in zip(heads, tails)]
        for (i, j), (letter,) in zip(members, generator.generate_ids(rows, one, first_index=index)):
            if letter.text.strip() in LETTERS:
                out[i][j] = forced(samples[i][j], letter.text.strip())
    return out


def letter_a(probs: tuple[float, ...], temperature: float) -> float:
    """p("A") of the two verdict letters at `temperature` (0: 1 or 0, the likelier letter; ties go to "A")."""
    a, b = probs[0], probs[1]
    if temperature <= 0:
        return 1.0 if a >= b else 0.0
    a, b = a ** (1 / temperature), b ** (1 / temperature)
    return a / (a + b) if a + b > 0 else 0.5


def forced(c: Completion, letter: str) -> Completion:
    return Completion(c.text + VERDICT_CUE + letter + "]]", c.num_tokens + 1, c.finished, c.cue_probs, c.token_ids)


def share(chosen: int, rejected: int) -> float | None:
    return chosen / (chosen + rejected) if chosen + rejected else None


class CoTJudge:
    kind = "cot"

    def __init__(self, generator, votes: int = 8, max_new_tokens: int = 256, temperature: float = 1.0,
                 top_p: float = 0.95, both_orders: bool = True, adaptive: bool = True, seed: int = 0,
                 force_verdict: bool = False, name: str = "cot", template: str = "cot"):
        if votes < 1:
            raise ValueError(f"votes must be at least 1, not {votes}")
        self.generator, self.name, self.template, self.order_seed = generator, name, template, seed
        self.votes, self.both_orders, self.adaptive, self.force_verdict = votes, both_orders, adaptive, force_verdict
        self.params = SamplingParams(n=1, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
        self.tokens_generated = 0  # running total, for throughput and adaptive-stopping reports

    @classmethod
    def from_pretrained(cls, path: str, card: dict | None = None, name: str | None = None, votes: int | None = None,
                        max_new_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
                        backend: str = "hf", max_length: int | None = None, adaptive: bool | None = None,
                        both_orders: bool | None = None, force_verdict: bool | None = None, seed: int = 0,
                        template: str | None = None, order_seed: int | None = None, **generator_options) -> CoTJudge:
        card = card or {}
        given = {"votes": votes, "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                 "adaptive": adaptive, "both_orders": both_orders, "force_verdict": force_verdict, "template": template}
        seed = seed if order_seed is None else order_seed
        opts = {k: card[k] for k in given if k in card}
        opts.update({k: v for k, v in given.items() if v is not None})
        generator = load_generator(path, backend=backend, max_length=max_length, **generator_options)
        return cls(generator, name=name or path, seed=seed, **opts)

    def card(self) -> dict:
        """The judge card to store with a checkpoint (`genrm_judge.json`)."""
        return {"kind": "cot", "template": self.template, "votes": self.votes, "both_orders": self.both_orders,
                "adaptive": self.adaptive, "force_verdict": self.force_verdict, "max_new_tokens": self.params.max_new_tokens,
                "temperature": self.params.temperature, "top_p": self.params.top_p}

    def without_early_stop(self) -> CoTJudge:
        """This judge drawing every vote (same samples, exact vote shares); see the module docstring."""
        import copy

        if not self.adaptive:
            return self
        other = copy.copy(self)
        other.adaptive = False
        return other

    def too_long(self, pairs: Sequence[PreferencePair]) -> list[TooLong]:
        """Pairs whose judge prompt leaves no room for the rationale (max_new_tokens) and the verdict cue."""
        context = getattr(self.generator, "context", None)
        if context is None:
            return []
        reserve = self.params.max_new_tokens + (len(plain_ids(self.generator.tokenizer, [VERDICT_CUE])[0]) + 2
                                                 if self.force_verdict else 0)
        inputs = [[(judge_messages(p, o, self.template), True) for o in shown_orders(p, self.both_orders, self.order_seed)]
                  for p in pairs]
        return too_long(self.generator.tokenizer, pairs, inputs, context - reserve)

    def judge(self, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        apply_policy(pairs, self.too_long(pairs))
        if self.generator.batch_size is not None:  # (vLLM schedules its own batches)
            self.generator.batch_size = batch_size
        orders = [shown_orders(p, self.both_orders, self.order_seed) for p in pairs]
        tallies = [_Tally() for _ in pairs]
        with tqdm(total=len(pairs), desc="cot judging", unit="pair", disable=not progress) as bar:
            active = list(range(len(pairs)))
            while active:
                plan = {i: next_round(tallies[i], orders[i], self.votes, self.adaptive) for i in active}
                bar.update(sum(1 for i in active if not plan[i]))
                active = [i for i in active if plan[i]]
                groups: dict[tuple[int, int], list[tuple[int, bool]]] = {}
                for i in active:
                    for o, n in plan[i].items():
                        groups.setdefault((tallies[i].drawn(o), n), []).append((i, o))
                for (first_index, n), members in sorted(groups.items()):
                    prompts = [judge_messages(pairs[i], o, self.template) for i, o in members]
                    params = verdict_params(SamplingParams(n=n, temperature=self.params.temperature, top_p=self.params.top_p,
                                                           max_new_tokens=self.params.max_new_tokens, seed=self.params.seed),
                                            self.force_verdict)
                    sampled = self.generator.generate(prompts, params, first_index=first_index)
                    drawn = force_verdicts(self.generator, prompts, sampled, params, first_index) if self.force_verdict else sampled
                    for (i, o), samples, own in zip(members, drawn, sampled):
                        for s, before in zip(samples, own):
                            tallies[i].add(o, s.text, before.num_tokens, forced=s.text != before.text)
                            self.tokens_generated += s.num_tokens
        return [self._judgment(t, o) for t, o in zip(tallies, orders)]

    @staticmethod
    def _judgment(t: _Tally, orders: tuple[bool, ...]) -> Judgment:
        c, r, u = (sum(getattr(t, k).values()) for k in ("chosen", "rejected", "unparsed"))
        p = share(c, r)
        first = share(t.chosen.get(True, 0), t.rejected.get(True, 0)) if True in orders else None
        second = share(t.chosen.get(False, 0), t.rejected.get(False, 0)) if False in orders else None
        return Judgment(p_chosen=0.5 if p is None else p, parsed=p is not None, p_chosen_first=first,
                        p_chosen_second=second, votes={"chosen": c, "rejected": r, "unparsed": u},
                        rationales=[text for o in orders for text in t.texts.get(o, [])], rationale_tokens=list(t.tokens),
                        forced_verdicts=t.forced,
                        order_votes={ORDER_NAMES[o]: t.sequence[o] for o in orders if o in t.sequence})
