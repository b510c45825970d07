"""Time to accuracy of the main command: the default convection job, timed, and its model's
many-query study.

  python -m benchmarks.time_to_accuracy --seed=S [--workdir=runs/tta_seedS] [--out=FILE]

Runs exactly what `python -m experiments.convection --beta_range=30,40 --seed=S` runs (recipe
"best", default targets, both rank modes), then `experiments.many_query` over 150 beta in [20, 50]
with 100 batched LM steps, and prints (and writes to --out) one JSON object:
{"seed", "recipe", "phase1_seconds", "total_seconds" (the whole main command: Phase 1,
zero-shot, Phase 2, results.json), "seconds_to": {"0.10", "0.05"} (training seconds at which the
zero-shot max over the training betas first fell below each, from the Phase-1 history; evaluation
time is not on that clock; null if never), "zero_shot_max", "zero_shot_mean" (over the training
betas, end of Phase 1), "zero_shot_max_offgrid" (beta 30.5, 33.3, 36.7, 39.5), "phase2_max"
(worst LM Phase 2 over the targets, both modes), "many_query_worst_25_45", "many_query_seconds"}.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax import many_query, recipes
from lrpinn_jax.checkpoint import load
from lrpinn_jax.experiment import ExperimentConfig, mu_grid, run, write_json_atomic
from lrpinn_jax.train import HISTORY_FILE

_SEED = flags.DEFINE_integer("seed", 0, "seed of the main command", lower_bound=0)
_WORKDIR = flags.DEFINE_string("workdir", None, "workdir of the main command (default: "
                               "runs/tta_seed<S>; must not hold checkpoints)")
_OUT = flags.DEFINE_string("out", None, "also write the JSON object here")
_MQ_STEPS = flags.DEFINE_integer("many_query_steps", 100, "LM steps of the many-query study",
                                 lower_bound=0)
_STEPS = flags.DEFINE_integer("phase1_steps", None, "override the recipe's Phase-1 steps (for a "
                              "quick check of the command; the benchmark uses the recipe's)",
                              lower_bound=1)

THRESHOLDS = (0.10, 0.05)
OFFGRID = (30.5, 33.3, 36.7, 39.5)


def seconds_to(history: list, threshold: float):
  """Training seconds of the first history line whose zero-shot max is below ``threshold``."""
  return next((r["seconds"] for r in history if r.get("test_rel_err_max", 1.0) < threshold), None)


def measure(seed: int, workdir: str, phase1_steps=None, many_query_steps: int = 100):
  """Runs the main command for ``seed`` in ``workdir`` and its model's many-query study; returns
  (the time_to_accuracy.json dict, the many_query.json dict)."""
  train_mu = mu_grid([(30.0, 40.0), (0.0, 0.0), (0.0, 0.0)], [1.0, 1.0, 1.0])
  settings = recipes.resolve("convection", "best", {"phase1_steps": phase1_steps})
  cfg = ExperimentConfig(workdir=workdir, train_mu=tuple(map(tuple, train_mu.tolist())),
                         targets=((30.0, 0.0, 0.0), (35.0, 0.0, 0.0), (40.0, 0.0, 0.0)),
                         recipe="best", seed=seed, **settings)
  t0 = time.perf_counter()
  res = run(cfg, {"beta_range": "30,40"})
  total = time.perf_counter() - t0
  with open(os.path.join(workdir, HISTORY_FILE)) as f:
    history = [json.loads(l) for l in f if l.strip()]
  last = history[-1]
  solver = load(workdir)
  offgrid = many_query.beta_study(solver, OFFGRID, steps=0, seed=seed, log=lambda *_: None)
  study = many_query.beta_study(solver, np.linspace(20, 50, 150), steps=many_query_steps,
                                seed=seed)
  phase2 = [e["phase2"][m]["rel_err"] for e in res["results"] for m in e["phase2"]]
  out = {"seed": seed, "recipe": "best", "phase1_seconds": res["phase1"]["seconds"],
         "total_seconds": total,
         "seconds_to": {f"{th:.2f}": seconds_to(history, th) for th in THRESHOLDS},
         "zero_shot_max": last["test_rel_err_max"], "zero_shot_mean": last["test_rel_err"],
         "zero_shot_max_offgrid": max(r["zero_shot_rel_err"] for r in offgrid["betas"]),
         "phase2_max": float(np.max(phase2)) if phase2 else None,
         "many_query_worst_25_45": many_query.worst_in(study, 25, 45),
         "many_query_seconds": study["seconds"], "settings": settings}
  return out, study


def main(argv):
  del argv
  seed = _SEED.value
  workdir = _WORKDIR.value or f"runs/tta_seed{seed}"
  out, study = measure(seed, workdir, _STEPS.value, _MQ_STEPS.value)
  print(json.dumps(out, indent=1))
  write_json_atomic(os.path.join(workdir, "time_to_accuracy.json"), out)
  write_json_atomic(os.path.join(workdir, "many_query.json"), study)
  if _OUT.value:
    write_json_atomic(_OUT.value, out)


if __name__ == "__main__":
  _cli.run_main(main)
