"""Judges: every reward model is a Judge (base.py: the protocols and `load_judge`).

bt.py (Bradley-Terry, a scalar head), indicator.py (GenRM: the "A"/"B" token's probability),
cot.py (CoT-GenRM: rationales and votes), length.py (the length baseline); prompts.py holds the
judge templates and the verdict parser shared by judges, training and STaR; tournament.py holds
the Bradley-Terry fit and the group rewards (round robin, k random opponents, knockout) shared by
best-of-N, the GRPO adapter and the server.

May import: generation, data, models and the foundation.
"""
