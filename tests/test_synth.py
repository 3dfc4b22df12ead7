import json

import pytest

from genrm.data.pairs import load_pairs
from genrm.data.synth import (
    OOD_FAMILIES,
    TRAIN_FAMILIES,
    is_refusal,
    list_items,
    make_pairs,
    make_rows,
    satisfies,
    write_splits,
)
from genrm.eval.runner import evaluate
from genrm.judges.length import LengthJudge


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = write_splits(tmp_path / "a", 40, 20, 35, seed=3)
    b = write_splits(tmp_path / "b", 40, 20, 35, seed=3)
    c = write_splits(tmp_path / "c", 40, 20, 35, seed=4)
    assert set(a) == {"train", "heldout", "ood"}
    for split in a:
        assert a[split].read_bytes() == b[split].read_bytes()
    assert a["train"].read_bytes() != c["train"].read_bytes()


def test_files_load_in_rewardbench_schema(tmp_path):
    paths = write_splits(tmp_path, 40, 20, 35, seed=0)
    for split, n in (("train", 40), ("heldout", 20), ("ood", 35)):
        pairs = load_pairs(paths[split])
        assert len(pairs) == n and not pairs.skipped
        row = json.loads(paths[split].read_text().splitlines()[0])
        assert set(row) == {"prompt", "chosen", "rejected", "subset", "id"}
        assert len({p.id for p in pairs}) == n
    assert {p.subset for p in load_pairs(paths["train"])} == set(TRAIN_FAMILIES)
    assert {p.subset for p in load_pairs(paths["ood"])} == set(OOD_FAMILIES)


def test_make_pairs_matches_the_files(tmp_path):
    paths = write_splits(tmp_path, 20, 8, 14, seed=1)
    pairs = make_pairs(20, 8, 14, seed=1)
    for split in paths:
        loaded = load_pairs(paths[split])
        assert [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in loaded] == \
               [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs[split]]


def test_checkers_agree_with_the_labels():
    rows = make_rows(400, 100, 700, seed=0)
    for split, split_rows in rows.items():
        for r in split_rows:
            assert satisfies(r["subset"], r["prompt"], r["chosen"]), (split, r)
            assert not satisfies(r["subset"], r["prompt"], r["rejected"]), (split, r)


def test_checkers_on_hand_written_cases():
    assert satisfies("lowercase", "Reply in all lowercase letters.", "hello there, team.")
    assert not satisfies("lowercase", "Reply in all lowercase letters.", "Hello there.")
    assert satisfies("list-count", "List exactly three fruits.", "Here:\n- apple\n- pear\n- plum")
    assert not satisfies("list-count", "List exactly 3 fruits.", "1. apple\n2. pear")
    assert list_items("1. a\n2) b\n* c\nnot an item") == 3
    assert satisfies("include-word", 'Write about cats that uses the word "calm".', "A calm cat.")
    assert not satisfies("include-word", 'Write about cats that uses the word "calm".', "A becalmed cat.")
    assert satisfies("word-limit", "Describe cats in at most 3 words.", "Cats are nice.")
    assert not satisfies("word-limit", "Describe cats in at least 4 words.", "Cats are nice.")
    assert satisfies("arithmetic", "What is 12 * 3?", "12 * 3 = 36.")
    assert not satisfies("arithmetic", "What is 12 - 3?", "The answer is 8.")
    assert satisfies("capital", "What is the capital of New Zealand?", "It is Wellington.")
    assert is_refusal("I’m sorry, but I can’t help with this.") and not is_refusal("Sure! Use a tripod.")
    with pytest.raises(ValueError):
        satisfies("no-such-family", "x", "y")


@pytest.mark.parametrize("split,families", [("heldout", TRAIN_FAMILIES), ("ood", OOD_FAMILIES)])
def test_length_does_not_predict_the_label(split, families):
    n = 120 * len(families)
    pairs = make_pairs(n, n, n, seed=5)[split]
    result = evaluate(LengthJudge(), pairs)
    assert set(result.subsets) == set(families)
    for family, score in [*result.subsets.items(), ("all", result.pooled)]:
        assert 0.4 <= score.accuracy <= 0.6, (family, score.accuracy)
        assert score.length_baseline == score.accuracy


def test_politeness_does_not_predict_the_label():
    pairs = make_pairs(600, 0, 700, seed=2)
    openers = ("Sure! ", "Of course. ", "Happy to help! ", "Great question. ")
    for split in ("train", "ood"):
        polite_chosen = sum(p.chosen_text.lower().startswith(tuple(o.lower() for o in openers)) for p in pairs[split])
        polite_rejected = sum(p.rejected_text.lower().startswith(tuple(o.lower() for o in openers)) for p in pairs[split])
        assert polite_chosen + polite_rejected > 100
        assert abs(polite_chosen - polite_rejected) / (polite_chosen + polite_rejected) < 0.2


def test_ood_families_are_never_in_training_data_and_heldout_is_not_in_train():
    assert not set(TRAIN_FAMILIES) & set(OOD_FAMILIES)
    rows = make_rows(300, 150, 70, seed=0)
    assert {r["subset"] for r in rows["train"]} == set(TRAIN_FAMILIES)
    assert not {r["subset"] for r in rows["train"] + rows["heldout"]} & set(OOD_FAMILIES)
    key = lambda r: (r["prompt"], r["chosen"], r["rejected"])
    assert not {key(r) for r in rows["train"]} & {key(r) for r in rows["heldout"]}
