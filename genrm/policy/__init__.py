"""Judges used on a policy's samples: best-of-N and rejection sampling (bon.py), reward-ranked
fine-tuning (raft.py), and reward functions for RL trainers (trl_reward.py: TRL's GRPOTrainer).
options.py holds the command-line options that `genrm bon` and `genrm rs` share.

May import: train, eval, judges, generation, data, models and the foundation; not serving,
export or demo (they share its layer), and nothing below imports it.
"""
