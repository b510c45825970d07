"""Many-query study (paper Fig. 5): Phase 2 for many unseen mu, vmapped over mu in one
jit-compiled program that takes --chunk mu at a time (memory stays bounded for any number of
mu), split over --devices. Any problem: the mu are --mu_set (rows, or a CSV / JSON file) or a
grid of --mu_grid values per parameter over the model's training box; a convection model takes
--beta_range and --n_beta instead.

  python -m experiments.many_query --checkpoint=<workdir or .npz> --beta_range=20,50 --n_beta=150 \
      --steps=100 --out=runs/many_query.json
  python -m experiments.many_query --checkpoint=<workdir> --beta_range=25,45 --n_beta=100000 \
      --steps=0 --chunk=5000       # zero-shot only: the hypernetwork's u for every beta
  python -m experiments.many_query --checkpoint=<workdir or .npz> --beta_range=30,40 --n_beta=10 \
      --lm=lm_geodesic_pcg --steps=60 --n_f=500 --chunk=5 --warm_steps=30   # a few mu, in seconds
  python -m experiments.many_query --checkpoint=results/kovasznay --mu_grid=50 --steps=100

The JSON holds per-mu errors (per field for a system), ranks and trainable counts, and the run's
seconds, mu_per_second (mu solved per second, compilation and reference solutions included) and
peak_memory_mb; convection's rows are under "betas", every other problem's under "mus".
"""

from __future__ import annotations

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import sharding
from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.fit.train import LM_OPTIMIZERS
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.query import many_query

from . import _cli

flags.DEFINE_string(
  "checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True
)
flags.DEFINE_string("beta_range", "20,50", "convection: betas spread evenly over 'lo,hi'")
flags.DEFINE_integer("n_beta", 150, "convection: number of betas", lower_bound=1)
flags.DEFINE_string(
  "mu_set", None, "the mu: rows 'a,b;c,d' (one number per parameter) or a CSV / JSON file"
)
flags.DEFINE_integer(
  "mu_grid",
  None,
  "the mu: this many values per parameter, evenly spaced over the model's training box",
  lower_bound=1,
)
flags.DEFINE_integer("steps", 100, "Levenberg-Marquardt steps (all betas at once)", lower_bound=0)
flags.DEFINE_enum(
  "lm",
  "lm",
  list(LM_OPTIMIZERS),
  "the LM variant (lrpinn_jax.fit.lm.VARIANTS): lm_geodesic_pcg reaches the same "
  "accuracy in about half the steps inside the training range (results/many_query_lm)",
)
flags.DEFINE_enum("rank_mode", "adaptive", ["adaptive", "full"], "Phase-2 rank mode")
flags.DEFINE_bool(
  "stop",
  False,
  "stop each mu's LM when its loss falls by less than --tol over "
  "--window steps (default: every mu takes all --steps)",
)
flags.DEFINE_float(
  "tol",
  many_query.Stop.DEFAULT_TOL,
  "--stop: the relative loss decrease per window below which a mu stops",
)
flags.DEFINE_integer("window", many_query.Stop.window, "--stop: steps per window", lower_bound=1)
flags.DEFINE_integer(
  "warm_steps",
  0,
  "> 0: warm starts: the chunks interleave the mu and every "
  "chunk after the first takes this many LM steps from the nearest solved "
  "mu's solution (0: every mu takes --steps from the hypernetwork)",
  lower_bound=0,
)
flags.DEFINE_string("out", "runs/many_query.json", "output JSON file")
flags.DEFINE_integer("seed", 0, "seed of the training and test points")
flags.DEFINE_integer(
  "chunk", many_query.DEFAULT_CHUNK, "betas per compiled call (0: all at once)", lower_bound=0
)
flags.DEFINE_integer(
  "n_f",
  1000,
  "Phase-2 collocation points (with 256 initial and 100 boundary points)",
  lower_bound=1,
)
flags.DEFINE_integer(
  "devices", 0, "split each chunk over this many devices (0: all JAX sees)", lower_bound=0
)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  if FLAGS.mu_set and FLAGS.mu_grid:
    raise UserError("give --mu_set or --mu_grid, not both")
  if not (np.isfinite(FLAGS.tol) and 0 < FLAGS.tol < 1):
    raise UserError(f"--tol must be a number in (0, 1), got {FLAGS.tol}")
  with _cli.timed("restore"):
    solver = load_phase1(FLAGS.checkpoint)
    pde = pde_of(solver)
  stop = many_query.Stop(FLAGS.window, FLAGS.tol if FLAGS.stop else 0.0)
  kwargs = dict(
    steps=FLAGS.steps,
    rank_mode=FLAGS.rank_mode,
    seed=FLAGS.seed,
    chunk=FLAGS.chunk,
    data=DataConfig(n_f=FLAGS.n_f),
    mesh=sharding.mu_mesh(FLAGS.devices),
    stop=stop,
    warm_steps=FLAGS.warm_steps,
    lm_cfg=LM_OPTIMIZERS[FLAGS.lm],
  )
  key = "phase2_rel_err" if FLAGS.steps else "zero_shot_rel_err"
  if FLAGS.mu_set or FLAGS.mu_grid:
    if FLAGS.mu_set:
      mus = _cli.parse_mu_list("mu_set", FLAGS.mu_set, pde.mu_names)
    else:
      box = training_box(FLAGS.checkpoint, solver.config.mu_dim)
      axes = [np.linspace(lo, hi, FLAGS.mu_grid if hi > lo else 1) for lo, hi in box]
      mus = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    with _cli.timed("solve"):
      out = many_query.study(solver, mus, **kwargs)
    errs = [r[key] for r in out["mus"]]
    where = f"over the {len(mus)} mu"
  elif pde.mu_names[:1] == ("beta",) and pde.mu_dim == 3:
    lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
    with _cli.timed("solve"):
      out = many_query.beta_study(solver, np.linspace(lo, hi, FLAGS.n_beta), **kwargs)
    errs = [r[key] for r in out["betas"] if 25 <= r["beta"] <= 45]
    where = "over [25, 45]"
  else:
    raise UserError(
      f"--beta_range is for convection models; give {pde.name}'s mu "
      f"({','.join(pde.mu_names)}) by --mu_set or --mu_grid"
    )
  out = {**out, "checkpoint": FLAGS.checkpoint}
  with _cli.timed("write"):
    write_json_atomic(FLAGS.out, out, indent=None)  # one row per mu: kept compact
  n = len(out.get("mus", out.get("betas")))
  print(
    f"[many_query] {out['seconds']:.1f} s for {n} mu ({out['mu_per_second']:.2f} "
    f"per second, peak memory {out['peak_memory_mb']:.0f} MiB); "
    f"{'Phase-2' if FLAGS.steps else 'zero-shot'} rel err {where}: "
    f"mean {np.mean(errs) if errs else float('nan'):.4f}, "
    f"max {np.max(errs) if errs else float('nan'):.4f}; wrote {FLAGS.out}"
  )


if __name__ == "__main__":
  _cli.run_main(main)
