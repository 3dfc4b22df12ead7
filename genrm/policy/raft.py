"""RAFT / rejection-sampling fine-tuning: sample N answers per prompt, rank them with a judge, SFT
the policy on the top-k per prompt, repeat from the new checkpoint (Dong et al. 2023; Llama 2's
rejection-sampling fine-tuning).

Run directory (runs.RunDir), one folder per iteration i:
  config.yaml            the resolved config
  iter-i/samples.jsonl   N ranked candidates per prompt (bon.sample_and_rank rows), appended per chunk
  iter-i/dataset.jsonl   the kept top-k (prompt, completion, score)
  iter-i/train/checkpoint  the policy after iteration i (plain HF checkpoint)
  final/samples.jsonl    samples of the last policy, ranked the same way (eval_final)
  metrics.json           per iteration: mean judge score of all samples, of the kept top-k, of the
                         best, with n and 95% CIs; train examples and final loss
  ledger.json            finished steps; rerunning the same command resumes after the last one,
                         and a half-written samples file continues from its last complete chunk.
Scores are comparable across iterations for a Bradley-Terry judge. For a pairwise judge the
round-robin strengths are centred per prompt, so only the top-k vs all gap means anything.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from genrm.config import ConfigError, EvalConfig, SamplingConfig, load_typed, to_dict
from genrm.policy.bon import PromptRow, load_prompts, mean_ci, sample_and_rank
from genrm.runs import Journal, RunDir, atomic_write_json, atomic_write_text, read_jsonl


@dataclass
class RaftConfig:
    policy: str = "smollm2-135m"
    judge: str | None = None  # anything genrm.load_judge accepts
    judge_kind: str | None = None
    prompts: str | None = None  # JSON lines with a `prompt` field
    limit: int | None = None  # use the first L prompts
    prompts_per_iteration: int | None = None  # None: every prompt every iteration; M: the next M prompts (cycling)
    iterations: int = 2
    n: int = 4  # samples per prompt
    top_k: int = 1  # kept per prompt for SFT
    ranking: str = "auto"  # auto | score | round_robin
    seed: int = 0  # iteration i samples with seed + i
    eval_final: bool = True  # sample and score the last policy too (metrics["final"])
    chunk_size: int = 8  # prompts per durable chunk of samples
    over_length: str = "error"  # a prompt with no room for sampling.max_new_tokens in the policy's context: error | skip
    sampling: SamplingConfig = field(default_factory=lambda: SamplingConfig(max_new_tokens=128))
    eval: EvalConfig = field(default_factory=EvalConfig)  # eval.batch_size: the judge's batch size
    train: dict = field(default_factory=lambda: {"learning_rate": 1e-5, "num_train_epochs": 1})  # SFTConfig keys + genrm's


def check_config(config: dict) -> RaftConfig:
    """The RaftConfig of a mapping; unknown keys and missing required values raise ConfigError."""
    cfg = load_typed(RaftConfig, config)
    for key in ("judge", "prompts", "policy"):
        if not getattr(cfg, key):
            raise ConfigError(f"raft needs '{key}'")
    if cfg.ranking == "knockout":
        raise ConfigError("raft keeps the top-k by score: use ranking=auto, score (BT) or round_robin")
    if not 1 <= cfg.top_k <= cfg.n:
        raise ConfigError(f"top_k must be between 1 and n={cfg.n}, got {cfg.top_k}")
    if cfg.iterations < 1:
        raise ConfigError("iterations must be at least 1")
    from trl import SFTConfig

    from genrm.train.common import check_keys

    try:
        check_keys(SFTConfig, cfg.train)  # a typo in train.* fails now, not after sampling
    except ConfigError as err:
        raise ConfigError(f"train: {err}") from None
    return cfg


def iteration_prompts(rows: list[PromptRow], per_iteration: int | None, i: int) -> list[PromptRow]:
    if not per_iteration or per_iteration >= len(rows):
        return rows
    start = (i * per_iteration) % len(rows)
    return [rows[(start + k) % len(rows)] for k in range(per_iteration)]


def top_k_examples(records: list[dict], k: int) -> list[dict]:
    """The k best non-empty candidates of each prompt (by the ranking's order)."""
    out = []
    for r in records:
        kept = [i for i in r["order"] if r["candidates"][i]["text"].strip()][:k]
        out += [{"id": r["id"], "prompt": r["prompt"], "completion": r["candidates"][i]["text"],
                 "score": r["candidates"][i]["score"], "finished": r["candidates"][i]["finished"]} for i in kept]
    return out


def sample_metrics(records: list[dict], top_k: int) -> dict:
    """Per-prompt means (n = prompts) of the judge score: all samples, the kept top-k, the best."""
    kept = top_k_examples(records, top_k)
    by_prompt: dict[str, list[float]] = {}
    for ex in kept:
        by_prompt.setdefault(ex["id"], []).append(ex["score"])
    return {
        "prompts": len(records), "samples": sum(len(r["candidates"]) for r in records),
        "ranking": records[0]["ranking"] if records else None,
        "mean_score": mean_ci([sum(c["score"] for c in r["candidates"]) / len(r["candidates"]) for r in records]),
        "top_k_score": mean_ci([sum(v) / len(v) for v in by_prompt.values()]),
        "best_score": mean_ci([r["winner"]["score"] for r in records]),
        "finished_fraction": (sum(c["finished"] for r in records for c in r["candidates"])
                              / max(1, sum(len(r["candidates"]) for r in records))),
        "mean_tokens": (sum(c["num_tokens"] for r in records for c in r["candidates"])
                        / max(1, sum(len(r["candidates"]) for r in records))),
    }


class Raft:
    def __init__(self, run: str | Path, config: dict):
        self.run = RunDir(run)
        self.cfg = check_config(config)
        resolved = to_dict(self.cfg)
        if (self.run / "config.yaml").exists():
            saved = self.run.load_config()
            diff = sorted(k for k in set(saved) | set(resolved) if saved.get(k) != resolved.get(k))
            if diff:
                raise ConfigError(f"{self.run.path} holds a run with a different config (keys: {', '.join(diff)}); "
                                  "rerun with the same settings to resume, or use a new run directory")
        else:
            self.run.save_config(resolved)
        self._judge = None

    @property
    def judge(self):
        if self._judge is None:
            from genrm.judges.base import load_judge

            self._judge = load_judge(self.cfg.judge, kind=self.cfg.judge_kind, dtype=self.cfg.sampling.dtype)
        return self._judge

    def policy(self, i: int) -> str:
        return self.cfg.policy if i == 0 else str(self.run / f"iter-{i - 1}" / "train" / "checkpoint")

    def run_all(self) -> dict:
        c = self.cfg
        from genrm.data.lengths import fit_prompts

        rows, over = fit_prompts(load_prompts(c.prompts, limit=c.limit), c.policy, c.sampling.max_new_tokens,
                                 c.over_length)
        self.skipped_prompts = len(over)
        for i in range(c.iterations):
            name = f"iter-{i}"
            prompts = iteration_prompts(rows, c.prompts_per_iteration, i)
            records = self.samples(name, self.policy(i), prompts, c.seed + i)
            dataset = self.dataset(name, records)
            self.train(name, self.policy(i), dataset)
            self.write_metrics()
        if c.eval_final:
            prompts = iteration_prompts(rows, c.prompts_per_iteration, c.iterations)
            self.samples("final", self.policy(c.iterations), prompts, c.seed + c.iterations)
        return self.write_metrics()

    def samples(self, name: str, policy: str, prompts: list[PromptRow], seed: int) -> list[dict]:
        path = self.run / name / "samples.jsonl"
        if self.run.is_done(f"{name}/samples"):
            return read_jsonl(path)
        from genrm.generation.base import SamplingParams, sampling_generator

        c, s = self.cfg, self.cfg.sampling
        with Journal(path, key=lambda r: r["id"]) as journal:
            todo = [p for p in prompts if p.id not in journal]
            print(f"genrm raft {name}: sampling {len(todo)} of {len(prompts)} prompts x {c.n} from {policy}", flush=True)
            if todo:
                params = SamplingParams(n=c.n, temperature=s.temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens,
                                        seed=seed)
                with sampling_generator(policy, s) as generator:  # closed (memory freed) before training
                    for start in range(0, len(todo), c.chunk_size):
                        journal.append(sample_and_rank(generator, self.judge, todo[start:start + c.chunk_size], params,
                                                       c.ranking, c.eval.batch_size, need_scores=True, progress=True))
                        print(f"genrm raft {name}: {len(journal)}/{len(prompts)} prompts ranked", flush=True)
            records = [journal[p.id] for p in prompts]
        self.run.mark_done(f"{name}/samples", {"prompts": len(records)})
        return records

    def dataset(self, name: str, records: list[dict]) -> list[dict]:
        path = self.run / name / "dataset.jsonl"
        if self.run.is_done(f"{name}/dataset"):
            return read_jsonl(path)
        kept = top_k_examples(records, self.cfg.top_k)
        if not kept:
            raise ValueError(f"{name}: every sampled answer is empty; nothing to fine-tune on")
        atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept))
        self.run.mark_done(f"{name}/dataset", {"examples": len(kept)})
        return kept

    def train(self, name: str, policy: str, dataset: list[dict]) -> str:
        if self.run.is_done(f"{name}/train"):
            return self.run.result(f"{name}/train")["checkpoint"]
        from genrm.train.common import losses
        from genrm.train.sft import SFTExample, train_sft

        out = self.run / name / "train"
        examples = [SFTExample(prompt=ex["prompt"], completion=ex["completion"], eos=ex["finished"]) for ex in dataset]
        random.Random(self.cfg.seed).shuffle(examples)
        print(f"genrm raft {name}: fine-tuning {policy} on {len(examples)} top-{self.cfg.top_k} answers", flush=True)
        train = {"seed": self.cfg.seed, **self.cfg.train}
        checkpoint = train_sft(policy, examples, out, train, card={"method": "raft", "iteration": name})
        loss = losses(out)
        self.run.mark_done(f"{name}/train", {"checkpoint": str(checkpoint), "examples": len(examples),
                                             "first_loss": loss[0] if loss else None, "last_loss": loss[-1] if loss else None})
        return str(checkpoint)

    def write_metrics(self) -> dict:
        iterations = []
        for i in range(self.cfg.iterations):
            name = f"iter-{i}"
            if not self.run.is_done(f"{name}/samples"):
                break
            row = {"iteration": i, "policy": self.policy(i),
                   **sample_metrics(read_jsonl(self.run / name / "samples.jsonl"), self.cfg.top_k)}
            if self.run.is_done(f"{name}/train"):
                row["train"] = self.run.result(f"{name}/train")
            iterations.append(row)
        metrics = {"iterations": iterations, "skipped_prompts_too_long": getattr(self, "skipped_prompts", 0)}
        if self.run.is_done("final/samples"):
            metrics["final"] = {"policy": self.policy(self.cfg.iterations),
                                **sample_metrics(read_jsonl(self.run / "final" / "samples.jsonl"), self.cfg.top_k)}
        atomic_write_json(self.run / "metrics.json", metrics)
        return metrics
