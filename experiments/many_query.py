"""Many-query study (paper Fig. 5): Phase 2 for many unseen beta in ONE jit-compiled vmapped call.

  python -m experiments.many_query --checkpoint=<workdir or .npz> --beta_range=20,50 --n_beta=150 \
      --steps=100 --out=results/convection_30_40/many_query.json
"""
from __future__ import annotations


import jax.numpy as jnp
import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax import many_query
from lrpinn_jax.data import DataConfig, test_set, train_batch
from lrpinn_jax.experiment import write_json_atomic
from lrpinn_jax.finetune import load_phase1
from lrpinn_jax.metrics import errors
from lrpinn_jax.pde import make_pde
from lrpinn_jax.phase1 import LossConfig, predict

flags.DEFINE_string("checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True)
flags.DEFINE_string("beta_range", "20,50", "betas spread evenly over 'lo,hi'")
flags.DEFINE_integer("n_beta", 150, "number of betas", lower_bound=1)
flags.DEFINE_integer("steps", 100, "Levenberg-Marquardt steps (all betas at once)", lower_bound=0)
flags.DEFINE_enum("rank_mode", "adaptive", ["adaptive", "full"], "Phase-2 rank mode")
flags.DEFINE_string("out", "results/convection_30_40/many_query.json", "output JSON file")
flags.DEFINE_integer("seed", 0, "seed of the training and test points")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  solver = load_phase1(FLAGS.checkpoint)
  pde = make_pde(solver.info.get("pde", "convection"))
  betas = np.linspace(lo, hi, FLAGS.n_beta)
  mus = np.stack([betas, np.zeros_like(betas), np.zeros_like(betas)], 1).astype(np.float32)
  data = DataConfig()
  points = train_batch(pde, data, FLAGS.seed)
  test = test_set(pde, data, mus, FLAGS.seed)
  x, t = jnp.asarray(test.x, jnp.float32), jnp.asarray(test.t, jnp.float32)
  cfg = solver.config
  zero = np.asarray(predict(cfg, solver.params, mus, x, t))
  print(f"[many_query] {len(betas)} betas in [{lo}, {hi}], {FLAGS.steps} LM steps, one batched call",
        flush=True)
  res = many_query.run_many(cfg, pde, solver.params, mus, points, steps=FLAGS.steps,
                            rank_mode=FLAGS.rank_mode,
                            loss_cfg=LossConfig(need_xx=pde.needs_uxx(mus)))
  u = np.asarray(many_query.predict_many(cfg, res.trainable, res.frozen, x, t))
  counts = many_query.trainable_counts(res.trainable, res.frozen)
  rows = []
  for i, b in enumerate(betas):
    ranks = [int(np.asarray(m[i]).sum()) for m in res.frozen["mask"]]
    rows.append({"beta": float(b), "zero_shot_rel_err": errors(zero[i], test.u[i])["rel_err"],
                 "phase2_rel_err": errors(u[i], test.u[i])["rel_err"], "ranks": ranks,
                 "trainable_params": int(counts[i])})
  out = {"seconds": res.seconds, "phase2_steps": FLAGS.steps, "rank_mode": FLAGS.rank_mode,
         "checkpoint": FLAGS.checkpoint, "betas": rows}
  write_json_atomic(FLAGS.out, out)
  inner = [r["phase2_rel_err"] for r in rows if 25 <= r["beta"] <= 45]
  print(f"[many_query] {res.seconds:.1f} s for {len(betas)} betas; Phase-2 rel err over "
        f"[25, 45]: mean {np.mean(inner) if inner else float('nan'):.4f}, "
        f"max {np.max(inner) if inner else float('nan'):.4f}; wrote {FLAGS.out}")


if __name__ == "__main__":
  _cli.run_main(main)
