"""Evaluation: `genrm.eval.evaluate(judge, pairs, out=...) -> EvalResult` (runner.py) scores any
judge on any pairs with one credit policy (credit.py), journaled so a killed run resumes
(journal.py); rewardbench.py and rewardbench2.py hold the benchmarks' subsets and weights as data
with pure scoring functions; report.py writes tables, JSON and charts; compare.py the paired tests
between methods.

May import: judges, generation, data, models and the foundation; train, star and everything
above use it.
"""


def __getattr__(name: str):
    if name == "evaluate":  # imported on first use: genrm.eval.rewardbench and friends stay light
        from genrm.eval.runner import evaluate

        return evaluate
    raise AttributeError(f"module 'genrm.eval' has no attribute {name!r}")
