"""genrm.train.dpo.train_dpo on a few fixed DPO examples, as STaR-DPO's training step calls it
(tests/test_sharded.py runs it under `accelerate launch` and in one process):
    python tests/assets/train_dpo.py MODEL OUT [key=value ...]"""
import sys

from genrm.config import parse_overrides
from genrm.train.dpo import DPOExample, train_dpo

PROMPTS = [("Say hi in lowercase.", "hi there", "HI THERE"), ("What is 2+2?", "4", "5"),
           ("Name a fruit.", "An apple.", "A brick."), ("Say no.", "No.", "Yes.")]

if __name__ == "__main__":
    model, out, *overrides = sys.argv[1:]
    examples = [DPOExample(prompt=[{"role": "user", "content": q}], chosen=c, rejected=r) for q, c, r in PROMPTS]
    train_dpo(model, examples, out, parse_overrides(overrides))
