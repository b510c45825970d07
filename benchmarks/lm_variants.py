"""The LM variants of Phase 2 (lrpinn_jax.fit.train.LM_OPTIMIZERS) side by side: accuracy per step
and cost per step, on one model, in one run.

  python -m benchmarks.lm_variants [--checkpoint=lrpinn_jax/official/phase1.npz] \
      [--betas=30,35,40] [--steps=100] [--n_f=1000] [--seed=0] [--out=FILE]

For each variant and each beta: the relative L2 error on the test grid every --every steps of a
single-mu Phase 2 (train.fit_phase2, the fine-tune's path). For each variant: the cost of one LM
step per mu in the batched many-query program (10 betas over the range of --betas, one chunk;
the time of 40 steps less that of 10, over 30 steps and 10 mu, compilation excluded).
Prints a table and writes one JSON object.
"""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np
from absl import app, flags

from lrpinn_jax.fit import train
from lrpinn_jax.fit.data import DataConfig, test_points, train_batch
from lrpinn_jax.fit.finetune import load_phase1
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.query import many_query

flags.DEFINE_string("checkpoint", "lrpinn_jax/official/phase1.npz", "convection Phase-1 model")
flags.DEFINE_string("betas", "30,35,40", "the betas of the single-mu trajectories")
flags.DEFINE_integer("steps", 100, "LM steps", lower_bound=1)
flags.DEFINE_integer("every", 10, "steps between test errors", lower_bound=1)
flags.DEFINE_integer("n_f", 1000, "collocation points", lower_bound=1)
flags.DEFINE_integer("seed", 0, "seed of the training and test points", lower_bound=0)
flags.DEFINE_string("out", "runs/lm_variants.json", "output JSON file")
flags.register_validator(
  "betas",
  lambda v: all(p.strip().replace(".", "", 1).isdigit() for p in v.split(",")),
  "--betas must be comma-separated positive numbers, e.g. 30,35,40",
)
FLAGS = flags.FLAGS


def batched_ms_per_mu_step(solver, pde, lm_cfg, points, mus) -> float:
  """Milliseconds per LM step per mu of the batched many-query program (compilation excluded)."""
  cfg, lc = solver.config, LossConfig(need_xx=False)
  seconds = {}
  for steps in (10, 40):
    solve = jax.jit(
      lambda p, m, pts, steps=steps: many_query.make_many_lm(cfg, pde, lc, steps, lm_cfg)(
        *many_query.init_many(cfg, p, m), m, pts
      )
    )
    jax.block_until_ready(solve(solver.params, mus, points))
    t0 = time.perf_counter()
    jax.block_until_ready(solve(solver.params, mus, points))
    seconds[steps] = time.perf_counter() - t0
  return 1e3 * (seconds[40] - seconds[10]) / (30 * len(mus))


def main(argv):
  del argv
  solver = load_phase1(FLAGS.checkpoint)
  pde = pde_of(solver)
  betas = [float(b) for b in FLAGS.betas.split(",")]
  data = DataConfig(n_f=FLAGS.n_f)
  points = train_batch(pde, data, FLAGS.seed)
  coords = test_points(pde, data, FLAGS.seed)
  mus = np.stack([np.linspace(min(betas), max(betas), 10), np.zeros(10), np.zeros(10)], 1).astype(
    np.float32
  )
  out = {"checkpoint": FLAGS.checkpoint, "n_f": FLAGS.n_f, "seed": FLAGS.seed, "variants": {}}
  for name in train.LM_OPTIMIZERS:
    rows = {}
    for beta in betas:
      mu = np.array([beta, 0.0, 0.0])
      _, _, info = train.fit_phase2(
        solver.config,
        pde,
        solver.params,
        mu,
        points,
        steps=FLAGS.steps,
        optimizer=name,
        loss_cfg=LossConfig(need_xx=False),
        eval_every=FLAGS.every,
        test=(*coords, pde.reference(*coords, mu)),
        log=lambda *_: None,
      )
      rows[str(beta)] = [[r["step"], r["rel_err"]] for r in info["trajectory"]]
    ms = batched_ms_per_mu_step(solver, pde, train.LM_OPTIMIZERS[name], points, mus)
    out["variants"][name] = {"batched_ms_per_mu_step": ms, "rel_err": rows}
    worst = {}
    for beta, traj in rows.items():
      for step, err in traj:
        worst[step] = max(worst.get(step, 0.0), err)
    shown = [s for s in sorted(worst) if s % (2 * FLAGS.every) == 0 or s == FLAGS.steps]
    print(
      f"{name:16s} {ms:5.2f} ms per mu-step; worst rel err over {FLAGS.betas} at step "
      + ", ".join(f"{s}: {worst[s]:.4f}" for s in shown),
      flush=True,
    )
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump(out, f, separators=(",", ":"))
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
