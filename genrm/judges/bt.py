"""Bradley-Terry judge: a one-label sequence classifier scores each (prompt + response) alone.

p_chosen = sigmoid(r_chosen - r_rejected). A conversation is tokenized exactly as TRL's
RewardTrainer tokenizes conversational data in training: `apply_chat_template(prompt + response,
tokenize=True)`, no generation prompt, no EOS appended (TRL appends EOS only to plain-string data;
genrm's pairs are always message lists). `conversation_ids` is that one function, shared by
training (genrm.train.bt) and scoring. Rows are left-padded and the classifier reads the reward at
the rightmost token that is not its pad token.

Pad convention. genrm's own checkpoints (with a judge card) pad with a token distinct from EOS, as
genrm trained them, so the reward is read at the conversation's last token. A checkpoint from
elsewhere keeps its own pad token: when that is EOS (common for RMs trained with pad = eos), the
reward is read at the last token that is not EOS, exactly where transformers reads it for the
unpadded conversation, i.e. where the model was trained to put it.
"""
from __future__ import annotations

from collections.abc import Sequence

from genrm.data.chat import chat_ids
from genrm.data.lengths import TooLong, apply_policy, input_limit, too_long
from genrm.forward_batches import map_batches
from genrm.judges.base import Response, assistant, both_responses, pointwise_judgments
from genrm.models import placed, prepare_tokenizer, torch_dtype
from genrm.types import Judgment, Message, PreferencePair


def conversation_ids(tokenizer, prompts: Sequence[list[Message]], responses: Sequence[Response]) -> list[list[int]]:
    """Token ids of each prompt + response conversation, as TRL's RewardTrainer tokenizes them
    (content as plain text: genrm.data.chat)."""
    return chat_ids(tokenizer, [list(p) + assistant(r) for p, r in zip(prompts, responses)], generation_prompt=False)


def keep_own_pad(model, tokenizer) -> None:
    """A foreign checkpoint's pad convention: the model's pad token (else the tokenizer's); only
    when it has none is a non-EOS pad chosen (then the reward is read at the last token, as it is
    for an unpadded conversation)."""
    pad = model.config.get_text_config().pad_token_id
    if pad is None:
        pad = model.config.pad_token_id if model.config.pad_token_id is not None else tokenizer.pad_token_id
    if pad is None:
        prepare_tokenizer(tokenizer, side="left")
    else:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(int(pad))
        tokenizer.padding_side = "left"


class BTJudge:
    kind = "bt"

    def __init__(self, model, tokenizer, max_length: int | None = None, name: str = "bt", own_checkpoint: bool = True,
                 share_prefix: bool = True):
        self.model, self.name, self.max_length = model, name, max_length
        self.share_prefix = share_prefix  # the conversations' common prefix computed once (genrm.forward_batches)
        if own_checkpoint:
            self.tokenizer = prepare_tokenizer(tokenizer, side="left", name=name)
        else:
            keep_own_pad(model, tokenizer)
            self.tokenizer = tokenizer
        # the classifier pools at the rightmost token that is not the pad token
        model.config.get_text_config().pad_token_id = self.tokenizer.pad_token_id
        model.config.pad_token_id = self.tokenizer.pad_token_id

    @classmethod
    def from_pretrained(cls, path: str, card: dict | None = None, name: str | None = None, dtype="auto",
                        max_length: int | None = None, device: str | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch_dtype(dtype))
        if model.config.num_labels != 1:
            raise ValueError(f"{path}: a sequence classifier with {model.config.num_labels} labels is not a reward model (need 1)")
        model = placed(model, dtype, device)
        return cls(model, AutoTokenizer.from_pretrained(path), max_length=max_length, name=name or path,
                   own_checkpoint=bool(card))

    @property
    def limit(self) -> int | None:
        return input_limit(self.max_length, self.model, self.tokenizer)

    def too_long(self, pairs: Sequence[PreferencePair]) -> list[TooLong]:
        inputs = [[(list(p.prompt) + p.chosen, False), (list(p.prompt) + p.rejected, False)] for p in pairs]
        return too_long(self.tokenizer, pairs, inputs, self.limit)

    def rows(self, prompts: Sequence[list[Message]], responses: Sequence[Response]) -> list[list[int]]:
        """Token ids of each conversation; one over the limit is an error naming the first."""
        rows = conversation_ids(self.tokenizer, prompts, responses)
        over = [i for i, r in enumerate(rows) if self.limit is not None and len(r) > self.limit]
        if over:
            raise ValueError(f"{len(over)} response(s) over the judge's limit of {self.limit} tokens (--max-length, else "
                             f"the model's context); first: response #{over[0]}, {len(rows[over[0]])} tokens")
        return rows

    def row_rewards(self, rows: Sequence[Sequence[int]], batch_size: int = 8, progress: bool = False,
                    sort: bool = True) -> list[float]:
        """The reward of each token row; `sort=False` batches in input order instead of by length
        (same rewards, more padding: benchmarks/bt_batching.py)."""

        def reward(batch):
            return self.model(**batch).logits[:, 0]

        device = next(self.model.parameters()).device
        return [float(x) for x in map_batches(rows, reward, self.tokenizer.pad_token_id, device, batch_size, progress,
                                              "scoring", sort, model=self.model if self.share_prefix else None)]

    def score(self, prompts: Sequence[list[Message]], responses: Sequence[Response], batch_size: int = 8,
              progress: bool = False) -> list[float]:
        return self.row_rewards(self.rows(prompts, responses), batch_size, progress)

    def judge(self, pairs: Sequence[PreferencePair], batch_size: int = 8, progress: bool = False) -> list[Judgment]:
        if not pairs:
            return []
        apply_policy(pairs, self.too_long(pairs))
        prompts, responses = both_responses(pairs)
        rows = self.rows(prompts, responses)
        return pointwise_judgments(self.row_rewards(rows, batch_size, progress))
