"""Many-query study (paper Fig. 5): Phase 2 for many unseen beta in ONE jit-compiled vmapped call.

  python -m experiments.many_query --checkpoint=<workdir or .npz> --beta_range=20,50 --n_beta=150 \
      --steps=100 --out=runs/many_query.json
"""
from __future__ import annotations

import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax import many_query
from lrpinn_jax.experiment import write_json_atomic
from lrpinn_jax.finetune import load_phase1

flags.DEFINE_string("checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True)
flags.DEFINE_string("beta_range", "20,50", "betas spread evenly over 'lo,hi'")
flags.DEFINE_integer("n_beta", 150, "number of betas", lower_bound=1)
flags.DEFINE_integer("steps", 100, "Levenberg-Marquardt steps (all betas at once)", lower_bound=0)
flags.DEFINE_enum("rank_mode", "adaptive", ["adaptive", "full"], "Phase-2 rank mode")
flags.DEFINE_string("out", "runs/many_query.json", "output JSON file")
flags.DEFINE_integer("seed", 0, "seed of the training and test points")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  solver = load_phase1(FLAGS.checkpoint)
  out = many_query.beta_study(solver, np.linspace(lo, hi, FLAGS.n_beta), steps=FLAGS.steps,
                              rank_mode=FLAGS.rank_mode, seed=FLAGS.seed)
  out = {**out, "checkpoint": FLAGS.checkpoint}
  write_json_atomic(FLAGS.out, out)
  inner = [r["phase2_rel_err"] for r in out["betas"] if 25 <= r["beta"] <= 45]
  print(f"[many_query] {out['seconds']:.1f} s for {FLAGS.n_beta} betas; Phase-2 rel err over "
        f"[25, 45]: mean {np.mean(inner) if inner else float('nan'):.4f}, "
        f"max {np.max(inner) if inner else float('nan'):.4f}; wrote {FLAGS.out}")


if __name__ == "__main__":
  _cli.run_main(main)
