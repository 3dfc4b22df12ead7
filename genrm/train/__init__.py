"""Training through TRL: bt.py (RewardTrainer), genrm.py and sft.py (SFTTrainer, loss on the
indicator or the rationale), dpo.py (DPOTrainer for STaR-DPO), grpo.py (GRPOTrainer for STaR-GRPO: reward terms, forced-verdict rollout); common.py holds what every trainer
shares (settings, freezing, LoRA, checkpoints, evaluation after training) and cached.py the
frozen-bottom cache.

May import: eval, judges, generation, data, models and the foundation.
"""
