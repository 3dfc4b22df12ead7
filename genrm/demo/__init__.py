"""The paper's comparison in miniature: every judge kind, trained and zero-shot, on the same pairs.

    from genrm.demo import run_demo
    results = run_demo("runs/demo", model="smollm2-135m", size="default")

Methods (rows, in order): length baseline, zero-shot (indicator judge), zero-shot CoT, BT, GenRM,
STaR-SFT, STaR-Rationalizer, STaR-DPO (`DemoConfig.rows` picks which; the default size leaves
the rationalizer out for time). Each is a function
`(model, data, work_dir, config, earlier) -> {split: EvalResult}` where `data` maps "train" /
"dev" / "test" / "ood" / "twin" to PreferencePair lists (no prompt in two of them); every score comes from genrm.eval.evaluate (the one
credit policy, journaled in work_dir/SPLIT), and the comparison (table, paired tests, chart) from
genrm.eval.compare. The STaR rows start from the
zero-shot CoT judge, whose results are their iteration 0 (computed once).

The run directory is a genrm.runs.RunDir: each method is a ledger step holding its results, so a
killed demo resumes where it stopped (a trained checkpoint whose scoring was interrupted is
reused, and the scoring itself resumes from its journal). Outputs: results.json, report.md,
accuracy.png and genrm.log (library logs and warnings).

The package: settings.py (sizes, rows, claims), methods.py (one function per row), run.py (the
pipeline and its outputs). It sits beside serving, policy and export: it may import star, train,
eval, judges, data and below, and nothing imports it but the `genrm demo` command.
"""
from genrm.demo.methods import METHODS, star_config
from genrm.demo.run import (
    conclusion,
    done_methods,
    labels,
    load_results,
    load_step,
    markdown,
    print_table,
    run_demo,
    run_methods,
    write_outputs,
)
from genrm.demo.settings import (
    CLAIMS,
    ROWS,
    SIZES,
    SPLITS,
    STAR_ROWS,
    STEPS,
    DemoConfig,
    MethodUnavailable,
    chosen_rows,
    settings,
)

__all__ = ["CLAIMS", "METHODS", "ROWS", "SIZES", "SPLITS", "STAR_ROWS", "STEPS", "DemoConfig", "MethodUnavailable",
           "chosen_rows", "conclusion", "done_methods", "labels", "load_results", "load_step", "markdown", "print_table",
           "run_demo", "run_methods", "settings", "star_config", "write_outputs"]
