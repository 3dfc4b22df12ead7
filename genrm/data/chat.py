"""The one place a conversation becomes chat-template text or tokens: training, scoring, sampling
and serving all call `chat_ids` (or `render` for text).

Template text is tokenized as the template means it (its control tokens); message content is
plain text. Content that spells one of the tokenizer's special tokens (`<|im_end|>`,
`<|im_start|>`, ...) has those strings split into ordinary tokens, so data (a pair, a policy's
sample, a request to the judge server) can never forge the template's structure, e.g. close the
judge's turn and answer "A" for it. Content without such strings is tokenized exactly as
`apply_chat_template(..., tokenize=True)` does (one pass over the rendered text), so benign data
keeps the tokens TRL's trainers produce.

Where content sits in the rendered text: the conversation is rendered once more with each content
replaced by a marker; the text between markers is the template's own. A template that trims
content (Llama 3) is matched with the trimmed content; a template that changes content in another
way gets content whose special strings are broken by a zero-width space (the one case in which the
content's text changes). Templates that insert today's date are rendered with a fixed date.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from genrm.types import Message

# the date Llama 3.1's template uses when none is given; fixed so prompts do not change from day to day
FIXED_DATE = "26 Jul 2024"
_MARK = re.compile("(\ue000\\d+\ue001)")


def render(tokenizer, messages: list[Message], generation_prompt: bool = True) -> str:
    """Chat-template text of `messages`; with `generation_prompt` it ends where the assistant's
    answer begins (judge prompts, sampling), without it the conversation is closed (training)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt,
                                         date_string=FIXED_DATE)


def special_strings(tokenizer) -> re.Pattern | None:
    """A pattern matching any of the tokenizer's special-token strings (None if it has none)."""
    strings = sorted((t.content for t in tokenizer.added_tokens_decoder.values() if t.special and t.content),
                     key=len, reverse=True)
    return re.compile("|".join(map(re.escape, strings))) if strings else None


def forges_tokens(messages: Sequence[Message], pattern: re.Pattern | None) -> bool:
    return pattern is not None and any(pattern.search(m["content"]) for m in messages)


def plain_ids(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of plain text (completions, rationales, cues): special-token strings split."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)["input_ids"]


def chat_ids(tokenizer, conversations: Sequence[list[Message]], generation_prompt: bool = True) -> list[list[int]]:
    """Token ids of each conversation: the template's control tokens, the content as plain text."""
    if not conversations:
        return []
    texts = [render(tokenizer, m, generation_prompt) for m in conversations]
    out = tokenizer(texts, add_special_tokens=False)["input_ids"]
    pattern = special_strings(tokenizer)
    for i, messages in enumerate(conversations):
        if forges_tokens(messages, pattern):
            out[i] = _content_as_text(tokenizer, messages, texts[i], generation_prompt, pattern)
    return [list(row) for row in out]


def _content_as_text(tokenizer, messages: list[Message], text: str, generation_prompt: bool,
                     pattern: re.Pattern) -> list[int]:
    marks = [f"\ue000{k}\ue001" for k in range(len(messages))]
    skeleton = render(tokenizer, [{**m, "content": mark} for m, mark in zip(messages, marks)], generation_prompt)
    pieces = _MARK.split(skeleton)
    for contents in ([m["content"] for m in messages], [m["content"].strip() for m in messages]):
        filled = [contents[marks.index(p)] if p in marks else p for p in pieces]
        if "".join(filled) == text:
            ids: list[int] = []
            for piece, fill in zip(pieces, filled):
                if piece in marks:
                    ids += plain_ids(tokenizer, [fill])[0]
                elif piece:
                    ids += tokenizer(piece, add_special_tokens=False)["input_ids"]
            return ids
    defused = [{**m, "content": pattern.sub(lambda s: s.group(0)[0] + "\u200b" + s.group(0)[1:], m["content"])}
               for m in messages]
    return list(tokenizer(render(tokenizer, defused, generation_prompt), add_special_tokens=False)["input_ids"])
