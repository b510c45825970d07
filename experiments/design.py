"""Design example: the mu whose u(x, t) at one time matches a target profile over x.

  python -m experiments.design --checkpoint=DIR --target_mu=36.3,0,0 [--t=0.5] [--n_x=256] --out=FILE

The target profile is the reference solution at --target_mu (a stand-in for a measured or wished
profile); the search runs by Adam through the Solver from --n_starts starts over the model's
training box. Writes a JSON file with mu_hat, the target, the misfit, the seconds and any other
minimum about as good (the answer need not be unique).
"""
from __future__ import annotations

import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax.query import design
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.pdes.registry import pde_of

flags.DEFINE_string("checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True)
flags.DEFINE_string("target_mu", "36.3,0,0", "mu of the target profile (reference solution)")
flags.DEFINE_float("t", 0.5, "time of the profile (convection at t = 1: beta and beta - 2 pi "
                   "give the same profile, so a box of width > 2 pi holds two answers)")
flags.DEFINE_integer("n_x", 256, "points of the profile", lower_bound=2)
flags.DEFINE_integer("n_starts", 11, "starts over the training box", lower_bound=1)
flags.DEFINE_integer("steps", 300, "Adam steps from each start", lower_bound=1)
flags.DEFINE_string("out", "runs/design.json", "output JSON file")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  solver = load_phase1(FLAGS.checkpoint)
  pde = pde_of(solver)
  mu_t = np.asarray(_cli.parse_floats("target_mu", FLAGS.target_mu), np.float64)
  if mu_t.shape != (pde.n_mu,):
    raise UserError(f"--target_mu needs {pde.n_mu} numbers {','.join(pde.mu_names)}")
  (x_lo, x_hi), (t_lo, t_hi) = pde.domain
  if not t_lo <= FLAGS.t <= t_hi:
    raise UserError(f"--t must lie in [{t_lo:g}, {t_hi:g}], got {FLAGS.t}")
  x = np.linspace(x_lo, x_hi, FLAGS.n_x, endpoint=False)
  target = pde.reference(x, np.full_like(x, FLAGS.t), mu_t)
  box = training_box(FLAGS.checkpoint, solver.config.n_mu)
  res = design.fit_profile(solver, x, FLAGS.t, target, box=box, n_starts=FLAGS.n_starts,
                           steps=FLAGS.steps)
  out = {"checkpoint": FLAGS.checkpoint, "target_mu": mu_t.tolist(), "t": FLAGS.t,
         "mu_hat": res.mu_hat.tolist(), "abs_err": np.abs(res.mu_hat - mu_t).tolist(),
         "misfit_mse": res.loss, "seconds": res.seconds,
         "other_minima": res.others.tolist()}
  write_json_atomic(FLAGS.out, out)
  print(f"[design] mu_hat {np.round(res.mu_hat, 4).tolist()} (target {mu_t.tolist()}), "
        f"misfit {res.loss:.2e}, {res.seconds:.2f} s"
        + (f"; other minima {np.round(res.others, 4).tolist()}" if len(res.others) else "")
        + f"; wrote {FLAGS.out}")


if __name__ == "__main__":
  _cli.run_main(main)
