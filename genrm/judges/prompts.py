"""Judge templates and verdict parsing.

A template is data (`Template`): a system prompt, the layout of the user turn and the hint
sentence. `indicator` and `cot` are the MT-Bench pairwise prompt (tie option removed), as in the
paper: answer "A"/"B", or a short explanation then a final `[[A]]`/`[[B]]` tag. `indicator-compact`
and `cot-compact` say the same in a few words, for short pairs such as genrm.data.synth's (a judge prompt
of ~100 tokens instead of ~300: CPU judging and training pay per token). Any CoT template can carry
a hint (the judge is told which answer is better, for the STaR rationalizer). A judge's template is
a judge-card property: training, sampling and scoring render the same prompt. Positions are
`first`/`second`; the letters are A/B.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from genrm.types import Message, PreferencePair

_JUDGE = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. You should choose the assistant that follows "
    "the user's instructions and answers the user's question better. Your evaluation should consider "
    "factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of "
    "their responses. Avoid any position biases and ensure that the order in which the responses were "
    "presented does not influence your decision. Do not allow the length of the responses to influence "
    "your evaluation. Be as objective as possible. "
)
_MT_BENCH_USER = ("[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{first}\n[The End of Assistant A's "
                  "Answer]\n\n[The Start of Assistant B's Answer]\n{second}\n[The End of Assistant B's Answer]")
_COMPACT_USER = "Instruction: {question}\n\nResponse A:\n{first}\n\nResponse B:\n{second}"


@dataclass(frozen=True)
class Template:
    system: str
    user: str  # format string with {question}, {first}, {second}
    cot: bool  # a rationale, then a [[A]]/[[B]] tag (else: one indicator token)
    hint: str = ""  # CoT templates: the rationalizer's hint, format string with {letter}


TEMPLATES = {
    "indicator": Template(_JUDGE + 'Output only your final verdict, with no explanation: "A" if assistant A is '
                          'better, "B" if assistant B is better.', _MT_BENCH_USER, cot=False),
    "cot": Template(_JUDGE + "Begin your evaluation by comparing the two responses and provide a short explanation. "
                    'After providing your explanation, output your final verdict by strictly following this format: '
                    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better.', _MT_BENCH_USER, cot=True,
                    hint="\n\n(For reference: an expert judged Assistant {letter}'s answer to be better. Explain why it "
                         "is better, then give your final verdict.)"),
    "indicator-compact": Template("Which response follows the user's instruction better? Answer A or B.",
                                  _COMPACT_USER, cot=False),
    "cot-compact": Template("Which response follows the user's instruction better? Give a one-sentence reason, then "
                            "the verdict as [[A]] or [[B]].", _COMPACT_USER, cot=True,
                            hint="\n\n(Hint: Response {letter} is better. Explain why, then give the verdict.)"),
}
SYSTEM = {name: t.system for name, t in TEMPLATES.items()}
INDICATOR_TEMPLATES = tuple(name for name, t in TEMPLATES.items() if not t.cot)
COT_TEMPLATES = tuple(name for name, t in TEMPLATES.items() if t.cot)
LETTERS = {"first": "A", "second": "B"}
_TAG = re.compile(r"\[\[\s*([AB])\s*\]\]")


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict: the preferred display position, or parsed=False when no tag was found."""

    position: str | None  # "first" | "second" | None
    parsed: bool


def parse_verdict(text: str) -> Verdict:
    """The last `[[A]]`/`[[B]]` tag in `text` wins (a rationale may quote the other tag first)."""
    tags = _TAG.findall(text)
    if not tags:
        return Verdict(None, False)
    return Verdict("first" if tags[-1] == "A" else "second", True)


def split_at_verdict(text: str) -> tuple[str, str]:
    """(text before the last verdict tag's letter, the letter and what follows): "why [[A]]" ->
    ("why [[", "A]]"). A text without a tag raises ValueError."""
    last = None
    for last in _TAG.finditer(text):
        pass
    if last is None:
        raise ValueError(f"no verdict tag in {text[-80:]!r}")
    return text[:last.start(1)], text[last.start(1):]


def conversation_text(messages: list[Message]) -> str:
    """The user's side of the exchange as the judge sees it; multi-turn history kept."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    names = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}
    return "\n\n".join(f"### {names[m['role']]}:\n{m['content']}" for m in messages)


def judge_messages(pair: PreferencePair, chosen_first: bool, template: str = "indicator",
                   hint: str | None = None) -> list[Message]:
    """System + user messages asking the judge to compare the pair's responses in one order.

    `hint` ("first" or "second", CoT templates only) tells the judge which position is better."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown judge template {template!r} (expected one of {', '.join(TEMPLATES)})")
    t = TEMPLATES[template]
    first, second = (pair.chosen_text, pair.rejected_text) if chosen_first else (pair.rejected_text, pair.chosen_text)
    user = t.user.format(question=conversation_text(pair.prompt), first=first, second=second)
    if hint is not None:
        if hint not in LETTERS or not t.cot:
            raise ValueError(f"a hint is 'first' or 'second' on a CoT template, not {hint!r} on {template!r}")
        user += t.hint.format(letter=LETTERS[hint])
    return [{"role": "system", "content": t.system}, {"role": "user", "content": user}]


def shown_orders(pair: PreferencePair, both_orders: bool = True, seed: int = 0) -> tuple[bool, ...]:
    """The display orders a pairwise judge shows `pair` in (True = chosen first): both, or one
    seeded random order from the pair's content hash, the same at any batch size, on resume and
    in every process, so a judge that always answers "A" scores 50%, not 100%."""
    if both_orders:
        return (True, False)
    import hashlib

    return (hashlib.sha256(f"{seed}\0{pair.key}".encode()).digest()[0] % 2 == 0,)


ORDER_NAMES = {True: "chosen_first", False: "chosen_second"}  # an order shown, by whether chosen comes first


def chosen_position(chosen_first: bool) -> str:
    return "first" if chosen_first else "second"


def indicator_ids(tokenizer, indicators: tuple[str, str] = ("A", "B")) -> tuple[int, int]:
    """Token ids of the two indicator strings; each must be exactly one token."""
    ids = []
    for s in indicators:
        toks = tokenizer.encode(s, add_special_tokens=False)
        if len(toks) != 1:
            raise ValueError(f"indicator {s!r} is {len(toks)} tokens for this tokenizer ({toks}); "
                             "GenRM needs single-token indicators: pick other strings")
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise ValueError(f"indicators {indicators} map to the same token")
    return ids[0], ids[1]
