"""Many-query study (paper Fig. 5): Phase 2 for many unseen beta, vmapped over beta in one
jit-compiled program that takes --chunk betas at a time (memory stays bounded for any --n_beta),
split over --devices.

  python -m experiments.many_query --checkpoint=<workdir or .npz> --beta_range=20,50 --n_beta=150 \
      --steps=100 --out=runs/many_query.json
  python -m experiments.many_query --checkpoint=<workdir> --beta_range=25,45 --n_beta=100000 \
      --steps=0 --chunk=5000       # zero-shot only: the hypernetwork's u for every beta

The JSON holds per-beta errors, ranks and trainable counts, and the run's seconds, mu_per_second
(betas solved per second, compilation and reference solutions included) and peak_memory_mb.
"""
from __future__ import annotations

import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax.query import many_query
from lrpinn_jax.fit import sharding
from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1

flags.DEFINE_string("checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True)
flags.DEFINE_string("beta_range", "20,50", "betas spread evenly over 'lo,hi'")
flags.DEFINE_integer("n_beta", 150, "number of betas", lower_bound=1)
flags.DEFINE_integer("steps", 100, "Levenberg-Marquardt steps (all betas at once)", lower_bound=0)
flags.DEFINE_enum("rank_mode", "adaptive", ["adaptive", "full"], "Phase-2 rank mode")
flags.DEFINE_string("out", "runs/many_query.json", "output JSON file")
flags.DEFINE_integer("seed", 0, "seed of the training and test points")
flags.DEFINE_integer("chunk", many_query.DEFAULT_CHUNK, "betas per compiled call (0: all at once)",
                     lower_bound=0)
flags.DEFINE_integer("n_f", 1000, "Phase-2 collocation points (with 256 initial and 100 "
                     "boundary points)", lower_bound=1)
flags.DEFINE_integer("devices", 0, "split each chunk over this many devices (0: all JAX sees)",
                     lower_bound=0)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  solver = load_phase1(FLAGS.checkpoint)
  out = many_query.beta_study(solver, np.linspace(lo, hi, FLAGS.n_beta), steps=FLAGS.steps,
                              rank_mode=FLAGS.rank_mode, seed=FLAGS.seed, chunk=FLAGS.chunk,
                              data=DataConfig(n_f=FLAGS.n_f),
                              mesh=sharding.mu_mesh(FLAGS.devices))
  out = {**out, "checkpoint": FLAGS.checkpoint}
  write_json_atomic(FLAGS.out, out)
  key = "phase2_rel_err" if FLAGS.steps else "zero_shot_rel_err"
  inner = [r[key] for r in out["betas"] if 25 <= r["beta"] <= 45]
  print(f"[many_query] {out['seconds']:.1f} s for {FLAGS.n_beta} betas ({out['mu_per_second']:.2f} "
        f"per second, peak memory {out['peak_memory_mb']:.0f} MiB); "
        f"{'Phase-2' if FLAGS.steps else 'zero-shot'} rel err over [25, 45]: "
        f"mean {np.mean(inner) if inner else float('nan'):.4f}, "
        f"max {np.max(inner) if inner else float('nan'):.4f}; wrote {FLAGS.out}")


if __name__ == "__main__":
  _cli.run_main(main)
