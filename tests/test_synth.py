import json
from itertools import combinations

import pytest

from genrm.data.pairs import load_pairs
from genrm.data.synth import (
    NEW_FAMILIES,
    OOD_FAMILIES,
    RELATION,
    TRAIN_FAMILIES,
    TWIN,
    TWIN_FAMILIES,
    is_refusal,
    list_items,
    make_pairs,
    make_rows,
    satisfies,
    write_splits,
)
from genrm.eval.runner import evaluate
from genrm.judges.length import LengthJudge

SIZES = {"train": 40, "dev": 12, "test": 20, "ood": 35, "twin": 10}


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a = write_splits(tmp_path / "a", SIZES, seed=3)
    b = write_splits(tmp_path / "b", SIZES, seed=3)
    c = write_splits(tmp_path / "c", SIZES, seed=4)
    assert set(a) == set(SIZES)
    for split in a:
        assert a[split].read_bytes() == b[split].read_bytes()
    assert a["train"].read_bytes() != c["train"].read_bytes()


def test_files_load_in_rewardbench_schema(tmp_path):
    paths = write_splits(tmp_path, SIZES, seed=0)
    for split, n in SIZES.items():
        pairs = load_pairs(paths[split])
        assert len(pairs) == n and not pairs.skipped
        row = json.loads(paths[split].read_text().splitlines()[0])
        assert set(row) == {"prompt", "chosen", "rejected", "subset", "id"}
        assert len({p.id for p in pairs}) == n
    assert {p.subset for p in load_pairs(paths["train"])} == set(TRAIN_FAMILIES)
    assert {p.subset for p in load_pairs(paths["ood"])} == set(NEW_FAMILIES)
    assert {p.subset for p in load_pairs(paths["twin"])} == set(TWIN_FAMILIES)


def test_make_pairs_matches_the_files(tmp_path):
    paths = write_splits(tmp_path, SIZES, seed=1)
    pairs = make_pairs(SIZES, seed=1)
    for split in paths:
        loaded = load_pairs(paths[split])
        assert [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in loaded] == \
               [(p.id, p.prompt, p.chosen, p.rejected, p.subset) for p in pairs[split]]


def test_checkers_agree_with_the_labels():
    rows = make_rows({"train": 400, "test": 100, "ood": 400, "twin": 200}, seed=0)
    rows["relatives"] = make_rows({"ood": 300}, seed=0, ood_families=OOD_FAMILIES)["ood"]
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
    assert satisfies("sort-numbers", "Sort these numbers from largest to smallest: 4, 17, 9.", "In order: 17, 9, 4.")
    assert not satisfies("sort-numbers", "Sort these numbers from smallest to largest: 4, 17, 9.", "4, 17, 9")
    assert satisfies("larger-number", "Which is larger, 45 or 54?", "The larger one is 54.")
    assert not satisfies("larger-number", "Which number is bigger: 45 or 54?", "45 is bigger.")
    assert is_refusal("I’m sorry, but I can’t help with this.") and not is_refusal("Sure! Use a tripod.")
    with pytest.raises(ValueError):
        satisfies("no-such-family", "x", "y")


@pytest.mark.parametrize("split,families", [("test", TRAIN_FAMILIES), ("ood", NEW_FAMILIES), ("twin", TWIN_FAMILIES)])
def test_length_does_not_predict_the_label(split, families):
    n = 120 * len(families)
    pairs = make_pairs({split: n}, seed=5)[split]
    result = evaluate(LengthJudge(), pairs)
    assert set(result.subsets) == set(families)
    for family, score in [*result.subsets.items(), ("all", result.pooled)]:
        assert 0.4 <= score.accuracy <= 0.6, (family, score.accuracy)
        assert score.length_baseline == score.accuracy


def test_politeness_does_not_predict_the_label():
    pairs = make_pairs({"train": 600, "ood": 700}, seed=2, ood_families=OOD_FAMILIES)
    openers = ("Sure! ", "Of course. ", "Happy to help! ", "Great question. ")
    for split in ("train", "ood"):
        polite_chosen = sum(p.chosen_text.lower().startswith(tuple(o.lower() for o in openers)) for p in pairs[split])
        polite_rejected = sum(p.rejected_text.lower().startswith(tuple(o.lower() for o in openers)) for p in pairs[split])
        assert polite_chosen + polite_rejected > 100
        assert abs(polite_chosen - polite_rejected) / (polite_chosen + polite_rejected) < 0.2


def test_splits_share_no_prompt_and_families_never_trained_on_stay_out():
    assert not set(TRAIN_FAMILIES) & set(OOD_FAMILIES)
    for seed in (0, 1, 2):
        rows = make_rows({"train": 384, "dev": 128, "test": 128, "ood": 128, "twin": 64}, seed=seed)
        assert {r["subset"] for r in rows["train"]} == set(TRAIN_FAMILIES)
        assert not {r["subset"] for r in rows["train"] + rows["dev"] + rows["test"]} & set(OOD_FAMILIES)
        prompts = {split: {r["prompt"] for r in split_rows} for split, split_rows in rows.items()}
        for a, b in combinations(prompts, 2):
            assert not prompts[a] & prompts[b], (seed, a, b, sorted(prompts[a] & prompts[b])[:3])
        # every trained family has several prompts of its own in test (so per-prompt units can be tested)
        for family in TRAIN_FAMILIES:
            assert len({r["prompt"] for r in rows["test"] if r["subset"] == family}) >= 5, (seed, family)


def test_every_family_never_trained_on_states_its_relation():
    assert set(RELATION) == set(OOD_FAMILIES)
    assert all(TWIN in RELATION[f] for f in TWIN_FAMILIES)
    assert all(RELATION[f].startswith("new") for f in NEW_FAMILIES) and len(NEW_FAMILIES) >= 2
