"""Judges on tiny models: BT scores the exact tokens TRL's RewardTrainer trains on, at the same
(last non-pad) position; scores do not depend on batch size; load_judge dispatches plain HF
checkpoints; p_chosen follows the documented formulas."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from genrm.types import PreferencePair


def varied_pairs(n: int = 16) -> list[PreferencePair]:
    """Pairs of very different lengths (so padding matters), some multi-turn or with a system prompt."""
    out = []
    for i in range(n):
        prompt = [{"role": "user", "content": "What is 2+2? " * (1 + i % 5)}]
        if i % 3 == 0:
            prompt = [{"role": "system", "content": "Be brief."}, *prompt,
                      {"role": "assistant", "content": "Four."}, {"role": "user", "content": "And 3+3?"}]
        out.append(PreferencePair(id=f"v{i}", prompt=prompt,
                                  chosen=[{"role": "assistant", "content": "The answer is 4. " * (1 + i % 7)}],
                                  rejected=[{"role": "assistant", "content": "the lazy dog" * (1 + (i * 3) % 4)}],
                                  subset="toy", source=f"toy.jsonl:{i + 1}"))
    return out


@pytest.fixture(scope="module")
def bt_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A plain HF one-label sequence classifier (random head, scaled up so scores differ visibly)."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    with torch.no_grad():
        model.score.weight.mul_(50)
    out = tmp_path_factory.mktemp("bt-plain")
    model.save_pretrained(out)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    return out


def test_bt_tokens_and_scores_match_trl_reward_trainer(bt_dir, tmp_path):
    """The judge scores exactly what RewardTrainer trains on: same token ids (TRL's own
    conversational preprocessing) and the same reward (TRL's collator, right padding)."""
    import datasets
    from trl import RewardConfig, RewardTrainer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    from genrm import load_judge
    from genrm.judges.bt import BTJudge, conversation_ids
    from genrm.models import load_tokenizer

    pairs = varied_pairs(6)
    tokenizer = load_tokenizer(str(bt_dir), side="right")
    raw = datasets.Dataset.from_list([{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs])
    args = RewardConfig(output_dir=str(tmp_path), max_length=None, report_to="none", bf16=False)
    trl_rows = RewardTrainer._prepare_dataset(None, raw, tokenizer, args, "train")
    prompts = [p.prompt for p in pairs]
    assert trl_rows["chosen_ids"] == conversation_ids(tokenizer, prompts, [p.chosen for p in pairs])
    assert trl_rows["rejected_ids"] == conversation_ids(tokenizer, prompts, [p.rejected for p in pairs])

    judge = load_judge(str(bt_dir))
    assert isinstance(judge, BTJudge) and judge.kind == "bt"
    batch = DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id)(list(trl_rows))
    with torch.no_grad():
        rewards = judge.model(**batch).logits.squeeze(-1)  # what compute_loss sees in training
    trained_chosen, trained_rejected = rewards.chunk(2)
    judgments = judge.judge(pairs, batch_size=4)
    assert torch.allclose(torch.tensor([j.score_chosen for j in judgments]), trained_chosen, atol=1e-4)
    assert torch.allclose(torch.tensor([j.score_rejected for j in judgments]), trained_rejected, atol=1e-4)
    for j in judgments:  # p_chosen = sigmoid(r_chosen - r_rejected)
        assert j.p_chosen == pytest.approx(1 / (1 + math.exp(-(j.score_chosen - j.score_rejected))), abs=1e-9)
        assert j.verdict == ("chosen" if j.score_chosen > j.score_rejected else "rejected")
    assert len({round(j.score_chosen, 3) for j in judgments}) > 1  # the scores really vary


@pytest.fixture(scope="module")
def short_prompt_lm(tmp_path_factory) -> Path:
    """A tiny causal LM whose tokenizer knows the judge template (short judge prompts: fast)."""
    from test_train import save_judge_tiny

    return save_judge_tiny(tmp_path_factory.mktemp("judge-tiny"))


@pytest.mark.parametrize("kind", ["bt", "genrm"])
def test_batch_invariance(kind, bt_dir, short_prompt_lm):
    from genrm import load_judge

    judge = load_judge(str(bt_dir if kind == "bt" else short_prompt_lm), dtype=torch.float32)
    assert judge.kind == kind
    pairs = varied_pairs(16)
    runs = [judge.judge(pairs, batch_size=b) for b in (1, 4, 16)]
    for field in ("p_chosen", "p_chosen_first", "p_chosen_second", "score_chosen", "score_rejected"):
        values = [[getattr(j, field) for j in run] for run in runs]
        if values[0][0] is None:
            continue
        for other in values[1:]:
            assert max(abs(a - b) for a, b in zip(values[0], other)) < 1e-4, field
    if kind == "genrm":  # per-order values kept; p_chosen is their mean
        j = runs[0][0]
        assert j.p_chosen == pytest.approx((j.p_chosen_first + j.p_chosen_second) / 2)


def test_load_judge_dispatch_and_errors(tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genrm import load_judge
    from genrm.judges.indicator import IndicatorJudge

    zero_shot = load_judge(str(tiny_model_dir))
    assert isinstance(zero_shot, IndicatorJudge) and zero_shot.both_orders
    assert zero_shot.judge([]) == []
    two_labels = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    two_labels.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="2 labels is not a reward model"):
        load_judge(str(tmp_path))


def test_bt_max_length_error_names_the_pair(bt_dir):
    from genrm import load_judge
    from genrm.data.pairs import DataError

    judge = load_judge(str(bt_dir), max_length=20)
    with pytest.raises(DataError, match=r"toy.jsonl, row 1, field '\w+': pair 'v0' is \d+ tokens, over the limit of 20") as e:
        judge.judge(varied_pairs(2))
    assert e.value.kind == "too_long" and e.value.row == 1


def test_foreign_bt_checkpoint_keeps_its_pad_convention(tiny_model_dir, tmp_path):
    """A checkpoint from elsewhere that pads with EOS, whose template ends a turn with EOS: genrm reads
    the reward where transformers does for the unpadded conversation (the last non-EOS token), not
    at the EOS that genrm's own convention would read."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genrm import load_judge
    from genrm.judges.bt import BTJudge

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = tok.chat_template.replace("<|im_end|>\n", "<|im_end|>")  # a turn ends exactly at EOS
    tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    model.config.pad_token_id = tok.eos_token_id
    with torch.no_grad():
        model.score.weight.mul_(50)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)

    pairs = varied_pairs(6)
    judge = load_judge(str(tmp_path))
    ids = [tok.apply_chat_template(p.prompt + p.chosen, tokenize=True, return_dict=True)["input_ids"] for p in pairs]
    assert all(row[-1] == tok.eos_token_id for row in ids)
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        expected = [plain(input_ids=torch.tensor([row])).logits[0, 0].item() for row in ids]
    got = [j.score_chosen for j in judge.judge(pairs, batch_size=4)]
    assert got == pytest.approx(expected, abs=1e-4)
    # genrm's own convention (a pad distinct from EOS) reads another token: another reward
    own = BTJudge(AutoModelForSequenceClassification.from_pretrained(tmp_path).eval(),
                  AutoTokenizer.from_pretrained(tmp_path), own_checkpoint=True)
    assert max(abs(a - b) for a, b in zip([j.score_chosen for j in own.judge(pairs)], expected)) > 1e-3


def test_indicator_one_order_mode_matches_that_order_of_both(short_prompt_lm):
    from genrm import load_judge
    from genrm.judges.prompts import shown_orders

    pairs = varied_pairs(12)
    both = load_judge(str(short_prompt_lm), dtype=torch.float32).judge(pairs, batch_size=4)
    one = load_judge(str(short_prompt_lm), dtype=torch.float32, both_orders=False, order_seed=3).judge(pairs, batch_size=5)
    shown = [shown_orders(p, False, 3)[0] for p in pairs]
    assert 0 < sum(shown) < len(pairs)
    for first, b, o in zip(shown, both, one):
        key = "p_chosen_first" if first else "p_chosen_second"
        assert getattr(o, key) == pytest.approx(getattr(b, key), abs=1e-4) and o.p_chosen == getattr(o, key)
        assert getattr(o, "p_chosen_second" if first else "p_chosen_first") is None


@pytest.mark.parametrize("kind", ["bt", "genrm"])
def test_shared_prefix_gives_the_same_scores(kind, bt_dir, short_prompt_lm):
    """The judge prompts' common prefix (system prompt, template header) computed once: same scores."""
    from genrm import load_judge
    from genrm.data.chat import chat_ids
    from genrm.forward_batches import common_prefix

    pairs = varied_pairs(10)
    judge = load_judge(str(bt_dir if kind == "bt" else short_prompt_lm), dtype=torch.float32)
    if kind == "genrm":
        from genrm.judges.prompts import judge_messages

        rows = chat_ids(judge.tokenizer, [judge_messages(p, True) for p in pairs])
        assert common_prefix(rows) >= 8  # the shared system prompt is long enough to be shared
    shared = judge.judge(pairs, batch_size=3)
    judge.share_prefix = False
    plain = judge.judge(pairs, batch_size=3)
    for field in ("p_chosen_first", "p_chosen_second", "score_chosen", "score_rejected"):
        a, b = [getattr(j, field) for j in shared], [getattr(j, field) for j in plain]
        if a[0] is not None:
            assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, field
    assert common_prefix([[1, 2, 3], [1, 2, 4, 5], [1, 2]]) == 1 and common_prefix([[7, 8], [7, 8]]) == 1


def test_plain_pass_right_pads_without_a_mask_and_reads_each_rows_last_token(short_prompt_lm, monkeypatch):
    """The indicator judge's plain pass runs right-padded batches with no attention mask (SDPA's
    causal kernel) and reads each row at its own last token: same scores as left padding with a
    mask, at any batch size."""
    from genrm import forward_batches as batching
    from genrm import load_judge

    pairs = varied_pairs(12)
    judge = load_judge(str(short_prompt_lm), dtype=torch.float32)
    judge.share_prefix = False
    seen, right_pad = [], batching.right_pad

    def recorded(rows, *args):
        batch = right_pad(rows, *args)
        seen.append(("attention_mask" in batch, len(set(map(len, rows)))))
        return batch

    monkeypatch.setattr(batching, "right_pad", recorded)
    maskless = {b: [j.p_chosen_first for j in judge.judge(pairs, batch_size=b)] for b in (1, 5)}
    assert seen and not any(mask for mask, _ in seen) and any(widths > 1 for _, widths in seen)  # padding present
    monkeypatch.setattr(batching, "right_pad", batching.left_pad)  # the masked path, for reference
    masked = [j.p_chosen_first for j in judge.judge(pairs, batch_size=5)]
    for b in (1, 5):
        assert max(abs(x - y) for x, y in zip(maskless[b], masked)) < 1e-4, b
    assert len({round(x, 4) for x in masked}) > 6  # the scores differ between pairs: a misread row would show


@pytest.mark.parametrize("kind", ["bt", "genrm"])
def test_int8_judging_quantizes_the_blocks_and_stays_close(kind, bt_dir, short_prompt_lm):
    from genrm import load_judge
    from genrm.eval.journal import identity
    from genrm.models import is_int8

    path = str(bt_dir if kind == "bt" else short_prompt_lm)
    pairs = varied_pairs(8)
    fp32, int8 = (load_judge(path, dtype=d) for d in ("float32", "int8"))
    assert is_int8(int8.model) and not is_int8(fp32.model)
    head = getattr(int8.model, "lm_head", None) or int8.model.score
    assert type(head) is torch.nn.Linear  # the output head stays fp32
    a, b = ([j.p_chosen for j in judge.judge(pairs, batch_size=4)] for judge in (fp32, int8))
    assert a != b and b == pytest.approx(a, abs=0.15)
    assert identity(int8)["dtype"] == "int8" and identity(fp32)["dtype"] == "torch.float32"
