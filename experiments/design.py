"""Design example: the mu whose solution at one time matches a target profile.

  python -m experiments.design --checkpoint=DIR --target_mu=36.3,0,0 [--t=0.5] [--n_x=256] \
      --out=FILE
  python -m experiments.design --checkpoint=results/taylor_green --target_mu=0.037 --t=1 --n_x=32

The profile lies over every coordinate but the last, which is held at --t (time; y for a steady
problem in x, y): u(x) at t for the CDR family, (u, v, p) over (x, y) at t for Taylor-Green, on
--n_x points per coordinate (--fields picks some). The target is the reference solution at
--target_mu (a stand-in for a measured or wished profile); the search runs by Adam through the
Solver from --n_starts starts over the model's
training box. Writes a JSON file with mu_hat, the target, the misfit, the seconds and any other
minimum about as good (the answer need not be unique).
"""

from __future__ import annotations

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.query import design, uq

from . import _cli

flags.DEFINE_string(
  "checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True
)
flags.DEFINE_string("target_mu", "36.3,0,0", "mu of the target profile (reference solution)")
flags.DEFINE_string("fields", None, "fields of the profile 'u,v' (default: all)")
flags.DEFINE_float(
  "t",
  0.5,
  "time of the profile: the last coordinate's value (convection at "
  "t = 1: beta and beta - 2 pi give the same profile, so a box of width > 2 pi "
  "holds two answers)",
)
flags.DEFINE_integer("n_x", 256, "points of the profile per coordinate", lower_bound=2)
flags.DEFINE_integer("n_starts", 11, "starts over the training box", lower_bound=1)
flags.DEFINE_integer("steps", 300, "Adam steps from each start", lower_bound=1)
flags.DEFINE_string("out", "runs/design.json", "output JSON file")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  solver = load_phase1(FLAGS.checkpoint)
  pde = pde_of(solver)
  mu_t = np.asarray(_cli.parse_floats("target_mu", FLAGS.target_mu), np.float64)
  if mu_t.shape != (pde.mu_dim,):
    raise UserError(f"--target_mu needs {pde.mu_dim} numbers {','.join(pde.mu_names)}")
  *_, (t_lo, t_hi) = pde.domain
  if not t_lo <= FLAGS.t <= t_hi:
    raise UserError(f"--t must lie in [{t_lo:g}, {t_hi:g}], got {FLAGS.t}")
  names = tuple(getattr(pde, "fields", ("u",)))
  fields = tuple(f.strip() for f in FLAGS.fields.split(",")) if FLAGS.fields else names
  if not fields or any(f not in names for f in fields):
    raise UserError(
      f"--fields must name fields of {pde.name} ({','.join(names)}), got {FLAGS.fields!r}"
    )
  axes = uq.grid(pde, [FLAGS.n_x] * (len(pde.domain) - 1) + [2])[:-1] + (np.array([FLAGS.t]),)
  coords, _ = uq.grid_points(axes)
  target = pde.reference(*coords, mu_t)
  idx = [names.index(f) for f in fields]
  if len(names) > 1:
    target = target[:, idx]
  box = training_box(FLAGS.checkpoint, solver.config.mu_dim)
  res = design.fit_target(
    solver,
    coords,
    target,
    box=box,
    fields=idx if len(names) > 1 else None,
    n_starts=FLAGS.n_starts,
    steps=FLAGS.steps,
  )
  out = {
    "checkpoint": FLAGS.checkpoint,
    "target_mu": mu_t.tolist(),
    "t": FLAGS.t,
    "fields": list(fields),
    "mu_hat": res.mu_hat.tolist(),
    "abs_err": np.abs(res.mu_hat - mu_t).tolist(),
    "misfit_mse": res.loss,
    "seconds": res.seconds,
    "other_minima": res.others.tolist(),
  }
  write_json_atomic(FLAGS.out, out)
  print(
    f"[design] mu_hat {np.round(res.mu_hat, 4).tolist()} (target {mu_t.tolist()}), "
    f"misfit {res.loss:.2e}, {res.seconds:.2f} s"
    + (f"; other minima {np.round(res.others, 4).tolist()}" if len(res.others) else "")
    + f"; wrote {FLAGS.out}"
  )


if __name__ == "__main__":
  _cli.run_main(main)
