"""STaR loops for CoT judges (Mahan et al. 2024): STaR-SFT, STaR-Rationalizer, STaR-DPO; and STaR-GRPO,
the CoT judge trained by RL on its own rationales (genrm/train/grpo.py).

    from genrm.star import run_star
    metrics = run_star("runs/star", method="dpo", model="smollm2-135m", config={"data": "pairs.jsonl"})

config.py holds the defaults and validation, samples.py the durable sampling and the SFT/DPO set
construction, loop.py the iteration, evaluation and resume logic.

May import: train, eval, judges, generation, data, models and the foundation.
"""
from genrm.star.loop import run_star

__all__ = ["run_star"]
