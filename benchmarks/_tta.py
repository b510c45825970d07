"""The time-to-accuracy measurement shared by benchmarks.time_to_accuracy and benchmarks.speed
--all (no flags here, so both commands can import it)."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from lrpinn_jax.fit import recipes
from lrpinn_jax.fit.experiment import ExperimentConfig, mu_grid, run
from lrpinn_jax.fit.train import HISTORY_FILE
from lrpinn_jax.io.checkpoint import load
from lrpinn_jax.query import many_query

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
  cfg = ExperimentConfig(
    workdir=workdir,
    train_mu=tuple(map(tuple, train_mu.tolist())),
    targets=((30.0, 0.0, 0.0), (35.0, 0.0, 0.0), (40.0, 0.0, 0.0)),
    recipe="best",
    seed=seed,
    **settings,
  )
  t0 = time.perf_counter()
  res = run(cfg, {"beta_range": "30,40"})
  total = time.perf_counter() - t0
  with open(os.path.join(workdir, HISTORY_FILE)) as f:
    history = [json.loads(l) for l in f if l.strip()]
  last = history[-1]
  solver = load(workdir)
  offgrid = many_query.beta_study(solver, OFFGRID, steps=0, seed=seed, log=lambda *_: None)
  study = many_query.beta_study(solver, np.linspace(20, 50, 150), steps=many_query_steps, seed=seed)
  phase2 = [e["phase2"][m]["rel_err"] for e in res["results"] for m in e["phase2"]]
  out = {
    "seed": seed,
    "recipe": "best",
    "phase1_seconds": res["phase1"]["seconds"],
    "total_seconds": total,
    "seconds_to": {f"{th:.2f}": seconds_to(history, th) for th in THRESHOLDS},
    "zero_shot_max": last["test_rel_err_max"],
    "zero_shot_mean": last["test_rel_err"],
    "zero_shot_max_offgrid": max(r["zero_shot_rel_err"] for r in offgrid["betas"]),
    "phase2_max": float(np.max(phase2)) if phase2 else None,
    "many_query_worst_25_45": many_query.worst_in(study, 25, 45),
    "many_query_seconds": study["seconds"],
    "settings": settings,
  }
  return out, study
