"""Quiet terminals: library chatter goes to a log file in the run directory, genrm prints results.

    with quiet(run_dir / "genrm.log"):
        ...  # transformers / datasets / TRL / accelerate warnings, load reports and progress bars -> the file

Python warnings, the libraries' loggers and their progress bars are redirected while the block
runs; trainers built inside it (genrm.train.common) log their loss dicts to the file instead of
printing them. `genrm --verbose ...` or GENRM_VERBOSE=1 leaves everything on the terminal.
"""
from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

LIBRARIES = ("transformers", "datasets", "trl", "accelerate", "peft", "torch", "huggingface_hub")
_active: list[Path] = []


def verbose() -> bool:
    return os.environ.get("GENRM_VERBOSE", "") not in ("", "0")


def active_log() -> Path | None:
    """The log file of the innermost `quiet` block (None: not quiet)."""
    return _active[-1] if _active else None


@contextmanager
def quiet(path: str | Path):
    """Send library logs, warnings and progress bars to `path` for the duration of the block."""
    if verbose():
        yield
        return
    import datasets
    import transformers

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    saved = []
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers, logger.propagate = [handler], False
    show = warnings.showwarning

    def to_file(message, category, filename, lineno, file=None, line=None):
        handler.stream.write(warnings.formatwarning(message, category, filename, lineno, line))
        handler.flush()

    warnings.showwarning = to_file
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    _active.append(path)
    try:
        yield
    finally:
        _active.pop()
        if bars:
            transformers.utils.logging.enable_progress_bar()
        datasets.enable_progress_bars()
        warnings.showwarning = show
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
        handler.close()


def quiet_trainer(trainer) -> None:
    """Inside `quiet`: the trainer's log dicts go to the log file, not to print(), and its progress
    bar (unless disable_tqdm) is one line with the step, ETA and the latest loss."""
    path = active_log()
    if path is None:
        return
    from tqdm.auto import tqdm
    from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

    class ToFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_local_process_zero and logs:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(f"trainer step {state.global_step}: {logs}\n")

    class LossBar(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_local_process_zero:
                self.bar = tqdm(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    trainer.remove_callback(PrinterCallback)
    if any(isinstance(c, ProgressCallback) for c in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(LossBar())
    trainer.add_callback(ToFile())
