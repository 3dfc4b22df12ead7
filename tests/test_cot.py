"""CoT judge: voting, unparsed samples, adaptive stopping vs fixed K, load_judge and export/reload."""
from __future__ import annotations

import json
import random

import pytest

from genrm.types import PreferencePair


def make_pairs(n: int, seed: int = 0) -> list[PreferencePair]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        out.append(PreferencePair(id=f"p{i}", prompt=[{"role": "user", "content": f"What is {a}+{b}?"}],
                                  chosen=[{"role": "assistant", "content": f"The answer is {a + b}."}],
                                  rejected=[{"role": "assistant", "content": f"The answer is {a + b + 1}."}],
                                  subset="sums", source=f"test:{i}"))
    return out


# the verdict model's grammar: last token -> {next token: logit}; everything else -> EOS
GRAMMAR = {"\n": {" is": 20.0}, " is": {" bet": 20.0}, " bet": {"ter": 20.0}, "ter": {".": 20.0},
           ".": {" [[": 20.0, "<|im_end|>": 20.0 - 1.386},  # 20% of samples end without a verdict
           " [[": {"A": 20.0 + 1.386, "B": 20.0}, "A": {"]]": 20.0}, "B": {"]]": 20.0}}  # A:B = 4:1


def build_verdict_model(tiny_dir, out):
    """The tiny Llama turned into a bigram model by hand: its layers write nothing to the residual
    stream, so the next token depends on the last token alone. After the generation prompt it writes
    ' is better. [[A]]' (or [[B]], or stops before the tag), so STaR and CoT code paths see real
    generate() output with parsed, unparsed, correct and incorrect samples."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    one = {}
    for text in {t for k, v in GRAMMAR.items() for t in (k, *v)}:
        ids = tok.encode(text, add_special_tokens=False)
        assert len(ids) == 1, (text, ids)
        one[text] = ids[0]
    states = list(GRAMMAR)
    hidden = model.config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb = model.get_input_embeddings().weight
        emb.zero_()
        emb[:, hidden - 1] = 1.0  # the "other" state
        head = model.lm_head.weight
        head.zero_()
        head[tok.eos_token_id, hidden - 1] = 20.0
        for k, state in enumerate(states):
            emb[one[state]] = 0.0
            emb[one[state], k] = 1.0
            for target, logit in GRAMMAR[state].items():
                head[one[target], k] = logit
        scale = hidden ** -0.5  # RMSNorm turns a one-hot row into sqrt(hidden) * one-hot
        head.mul_(scale)
        model.model.norm.weight.fill_(1.0)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def verdict_model_dir(tiny_model_dir, tmp_path_factory):
    return build_verdict_model(tiny_model_dir, tmp_path_factory.mktemp("verdict"))


class ScriptedGenerator:
    """A Generator whose sample j of a prompt is fixed text: exercises voting without a model."""

    tokenizer, batch_size = None, None

    def __init__(self, texts):
        self.texts, self.calls = texts, []

    def generate(self, prompts, params, progress=False, first_index=0):
        from genrm.generation.base import Completion

        self.calls.append((len(prompts), params.n, first_index))
        return [[Completion(self.texts[(first_index + j) % len(self.texts)], 3, True) for j in range(params.n)]
                for _ in prompts]


def test_votes_unparsed_and_last_tag_wins():
    from genrm.judges.cot import CoTJudge

    # chosen-first order: "[[A]]" = chosen; chosen-second order: "[[A]]" = rejected
    gen = ScriptedGenerator(["no verdict here", "I said [[B]] but final [[A]]", "[[A]]", "[[B]]"])
    j = CoTJudge(gen, votes=4, adaptive=False).judge(make_pairs(1))[0]
    assert j.votes == {"chosen": 3, "rejected": 3, "unparsed": 2}
    assert j.p_chosen == 0.5 and j.parsed and j.verdict == "tie"
    assert j.p_chosen_first == pytest.approx(2 / 3) and j.p_chosen_second == pytest.approx(1 / 3)
    assert len(j.rationales) == 8
    none = CoTJudge(ScriptedGenerator(["nothing"]), votes=2).judge(make_pairs(1))[0]
    assert not none.parsed and none.p_chosen == 0.5 and none.votes == {"chosen": 0, "rejected": 0, "unparsed": 4}


def test_adaptive_rule_is_exact_and_minimal():
    from genrm.judges.cot import CoTJudge

    gen = ScriptedGenerator(["[[A]]"])  # chosen-first says chosen, chosen-second says rejected: a tie
    assert CoTJudge(gen, votes=8).judge(make_pairs(1))[0].votes["chosen"] == 8  # never settles early
    gen = ScriptedGenerator(["[[A]]"])
    j = CoTJudge(gen, votes=8, both_orders=False).judge(make_pairs(1))[0]
    assert j.votes == {"chosen": 5, "rejected": 0, "unparsed": 0}  # 5 of 8 decide it
    assert gen.calls == [(1, 5, 0)]


def test_adaptive_round_is_the_fewest_samples_split_over_orders():
    from genrm.judges.cot import _Tally, next_round

    tally, orders = _Tally(), (True, False)
    assert next_round(tally, orders, 8, adaptive=False) == {True: 8, False: 8}
    assert next_round(tally, orders, 8, adaptive=True) == {True: 5, False: 4}  # 9 of 16 can settle it
    for o, n in ((True, 5), (False, 4)):
        for _ in range(n):  # votes that agree: "[[A]]" for chosen-first, "[[B]]" for chosen-second
            tally.add(o, "[[A]]" if o else "[[B]]")
    assert next_round(tally, orders, 8, adaptive=True) == {}  # lead 9 > 7 still to come: 7/16 saved
    split = _Tally()
    for o in orders:
        for _ in range(4):
            split.add(o, "[[A]]")  # position bias: the orders disagree
    assert next_round(split, orders, 8, adaptive=True) == {True: 3, False: 2}  # lead 0, 8 left: 5 could settle it


def test_adaptive_matches_fixed_k_with_fewer_tokens(verdict_model_dir):
    from genrm.generation.hf import HFGenerator
    from genrm.judges.cot import CoTJudge

    gen = HFGenerator.from_pretrained(str(verdict_model_dir), batch_size=8)
    pairs = make_pairs(6, seed=3)
    for both in (False, True):
        fixed = CoTJudge(gen, votes=8, max_new_tokens=12, adaptive=False, both_orders=both)
        adaptive = CoTJudge(gen, votes=8, max_new_tokens=12, adaptive=True, both_orders=both)
        a, b = fixed.judge(pairs), adaptive.judge(pairs)
        assert all(j.parsed for j in a) and any(j.votes["unparsed"] for j in a)
        assert a[0].rationales[0].strip() in ("is better. [[A]]", "is better. [[B]]", "is better.")
        assert [j.verdict for j in a] == [j.verdict for j in b]
        assert adaptive.tokens_generated <= fixed.tokens_generated
        for x, y in zip(a, b):  # the adaptive samples are the first samples of fixed K, in each order
            # rounds keep the orders within one sample of each other, chosen-first ahead
            first = -(-len(y.rationales) // 2) if both else len(y.rationales)
            assert y.rationales[:first] == x.rationales[:first]
            if both:
                assert y.rationales[first:] == x.rationales[8:8 + len(y.rationales) - first]
        if not both:  # the 4:1 lean settles some pairs before 8 votes
            assert adaptive.tokens_generated < fixed.tokens_generated


def test_load_judge_cot_zero_shot_and_card(tiny_model_dir, verdict_model_dir, tmp_path):
    import shutil

    from genrm.judges.base import load_judge

    judge = load_judge(str(tiny_model_dir), kind="cot", votes=3, max_new_tokens=8)
    assert judge.kind == "cot" and judge.votes == 3
    (j,) = judge.judge(make_pairs(1), batch_size=2)
    assert sum(j.votes.values()) >= 1 and 0.0 <= j.p_chosen <= 1.0
    exported = shutil.copytree(verdict_model_dir, tmp_path / "exported")
    (exported / "genrm_judge.json").write_text(json.dumps(judge.card() | {"votes": 2, "max_new_tokens": 12}))
    reloaded = load_judge(str(exported))  # the card says cot
    assert reloaded.kind == "cot" and reloaded.votes == 2 and reloaded.params.max_new_tokens == 12
    (j,) = reloaded.judge(make_pairs(1))
    assert j.parsed and sum(j.votes.values()) <= 4


def test_force_verdict_completes_tagless_samples(verdict_model_dir):
    from genrm.generation.hf import HFGenerator
    from genrm.judges.cot import VERDICT_CUE, CoTJudge

    gen = HFGenerator.from_pretrained(str(verdict_model_dir), batch_size=8)
    pairs = make_pairs(4, seed=5)
    plain = CoTJudge(gen, votes=4, max_new_tokens=12, adaptive=False).judge(pairs)
    forced = CoTJudge(gen, votes=4, max_new_tokens=12, adaptive=False, force_verdict=True).judge(pairs)
    assert sum(j.votes["unparsed"] for j in plain) > 0 and all(j.votes["unparsed"] == 0 for j in forced)
    for x, y in zip(plain, forced):  # tagged samples are untouched; tag-less ones get the cue and a letter
        for a, b in zip(x.rationales, y.rationales):
            assert b == a or (b.startswith(a + VERDICT_CUE) and b[-3:] in ("A]]", "B]]"))
        # the forced ones are counted as such, and the tokens are the model's own, not the forced letter
        assert y.forced_verdicts == sum(b != a for a, b in zip(x.rationales, y.rationales)) == x.votes["unparsed"]
        assert y.rationale_tokens == x.rationale_tokens and len(y.rationale_tokens) == 8


def test_behaviour_says_verdict_only_and_position_bound():
    """A judge whose rationales are a few tokens is verdict-only; one that always answers "A" in
    both orders is position-bound (consistency 0) and wrote every verdict itself."""
    from dataclasses import replace

    from genrm.eval.runner import evaluate
    from genrm.judges.cot import CoTJudge

    always_a = evaluate(CoTJudge(ScriptedGenerator(["[[A]]"]), votes=2, adaptive=False), make_pairs(6))
    b = always_a.behaviour
    assert b["position_consistency"] == 0.0 and b["pairs_both_orders"] == 6
    assert b["self_written_verdicts"] == 1.0 and b["verdict_only"] and b["rationales"] == 24
    class Wordy(ScriptedGenerator):  # a token per word
        def generate(self, prompts, params, progress=False, first_index=0):
            return [[replace(c, num_tokens=len(c.text.split())) for c in row]
                    for row in super().generate(prompts, params, progress, first_index)]

    long = "Assistant A answers the question and follows the instruction closely, so it is better. " * 3 + "[[A]]"
    thinking = evaluate(CoTJudge(Wordy([long]), votes=1, adaptive=False), make_pairs(2))
    assert not thinking.behaviour["verdict_only"] and thinking.behaviour["mean_rationale_tokens"] >= 16


def test_one_order_mode_shows_a_seeded_random_order():
    """A judge that always answers "A" scored ~100% when one order meant chosen-first; with a seeded
    random order per pair it scores the share of pairs shown chosen-first, and per-order accuracy says why."""
    from genrm.eval.runner import evaluate
    from genrm.judges.cot import CoTJudge
    from genrm.judges.prompts import shown_orders

    pairs = make_pairs(40, seed=1)
    always_a = CoTJudge(ScriptedGenerator(["[[A]]"]), votes=1, both_orders=False)
    result = evaluate(always_a, pairs, batch_size=7)
    first = sum(shown_orders(p, False, 0) == (True,) for p in pairs)
    assert 10 < first < 30 and result.accuracy == first / 40
    p = result.pooled
    assert (p.n_chosen_first, p.n_chosen_second) == (first, 40 - first)
    assert (p.chosen_first_accuracy, p.chosen_second_accuracy) == (1.0, 0.0)
    assert {e["shown"] for e in result.examples} == {"chosen_first", "chosen_second"}
    # the order depends on the pair's content and the seed only: not on batch size or neighbours
    again = evaluate(always_a, list(reversed(pairs)), batch_size=1)
    assert sorted((e["key"], e["shown"]) for e in again.examples) == sorted((e["key"], e["shown"]) for e in result.examples)
    other_seed = CoTJudge(ScriptedGenerator(["[[A]]"]), votes=1, both_orders=False, seed=1)
    assert [j.p_chosen_first is None for j in other_seed.judge(pairs)] != [e["shown"] == "chosen_second" for e in result.examples]


def test_greedy_forced_verdict_is_the_likelier_letter():
    """At temperature 0 the forced letter is the argmax of the cue probabilities (a deterministic
    single-vote judge); at temperature 1 it is drawn, so an unlikely letter appears too."""
    from genrm.generation.base import Completion, SamplingParams
    from genrm.judges.cot import force_verdicts

    probs = [(0.3, 0.7), (0.8, 0.2), (0.45, 0.55)] * 20
    samples = [[Completion(text=f"why {i}", num_tokens=2, finished=False, cue_probs=p, token_ids=())]
               for i, p in enumerate(probs)]
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(len(probs))]
    greedy = force_verdicts(None, prompts, samples, SamplingParams(temperature=0, max_new_tokens=2))
    assert [row[0].text[-3] for row in greedy] == ["B" if p[1] > p[0] else "A" for p in probs]
    drawn = force_verdicts(None, prompts, samples, SamplingParams(temperature=1.0, max_new_tokens=2))
    assert any(row[0].text[-3] != g[0].text[-3] for row, g in zip(drawn, greedy))


def test_forced_letter_follows_the_sampling_temperature():
    from genrm.judges.cot import letter_a

    assert letter_a((0.7, 0.3), 1.0) == pytest.approx(0.7)
    assert letter_a((0.7, 0.3), 0.5) == pytest.approx(0.49 / 0.58)  # sharper below 1
    assert letter_a((0.7, 0.3), 0) == 1.0 and letter_a((0.3, 0.7), 0) == 0.0 and letter_a((0.5, 0.5), 0) == 1.0


def test_cot_records_each_orders_votes_and_the_report_reads_them(tmp_path):
    """Judgment.order_votes: every sample's vote and tokens per order, in sample order; evaluate's
    report carries calibration, accuracy by votes (from those same samples) and tokens per decision."""
    import json

    from genrm.eval.runner import evaluate
    from genrm.judges.cot import CoTJudge

    judge = CoTJudge(ScriptedGenerator(["[[A]]", "[[B]]", "no verdict"]), votes=3, adaptive=False)
    pairs = make_pairs(2)
    (j, _) = judge.judge(pairs)
    assert j.order_votes == {"chosen_first": [["chosen", 3], ["rejected", 3], ["unparsed", 3]],
                             "chosen_second": [["rejected", 3], ["chosen", 3], ["unparsed", 3]]}
    result = evaluate(judge, pairs, out=tmp_path)
    assert [r["k"] for r in result.votes_curve] == [1, 2, 3]
    # k=1: A in both orders = chosen once, rejected once: a tie (0.5); k=2, 3: 2 against 2 -> 0.5
    assert [r["accuracy"] for r in result.votes_curve] == [0.5, 0.5, 0.5]
    assert [r["tokens_per_decision"] for r in result.votes_curve] == [6, 12, 18]
    assert result.calibration["n"] == 2 and result.calibration["ece"] == 0.0  # p 0.5, credit 0.5
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["votes_curve"] == result.votes_curve and saved["examples"][0]["order_votes"] == j.order_votes
    report = (tmp_path / "report.md").read_text()
    assert "## Calibration (ECE 0.000)" in report and "## Accuracy by votes per order" in report
    assert "position consistency" in report
