"""Hyper-LR-PINN on the 2D Helmholtz equation, mu = (a1, a2), trained on a1 = a2 = a.

  python -m experiments.helmholtz --a_range=2,3 --a_step=0.1 [--heldout=2.05,2.25,2.55,2.95]

Phase 1 on the a grid; zero-shot and Phase 2 on the training a values and the held-out ones.
Same shared flags, checkpoints and results.json as experiments.convection.
"""

from __future__ import annotations

import numpy as np
from absl import flags

from lrpinn_jax.fit import recipes
from lrpinn_jax.fit.experiment import ExperimentConfig, run

from . import _cli, _flags

flags.adopt_module_key_flags(_flags)
__doc__ += "\n" + recipes.describe("helmholtz")
flags.DEFINE_string("a_range", "2,3", "training range of a = a1 = a2, 'lo,hi' (inclusive)")
flags.DEFINE_float("a_step", 0.1, "step of the training a grid")
flags.DEFINE_string("heldout", "2.05,2.25,2.55,2.95", "held-out a values for Phase 2 ('' for none)")
flags.DEFINE_string("workdir", "runs/helmholtz", "output directory (checkpoints, results.json)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  _flags.start_processes()
  lo, hi = _cli.parse_range("a_range", FLAGS.a_range)
  step = _cli.positive("a_step", FLAGS.a_step)
  n = int(np.floor((hi - lo) / step + 1e-9)) + 1
  grid = np.round(lo + step * np.arange(n), 10)
  held = _cli.parse_floats("heldout", FLAGS.heldout) if FLAGS.heldout.strip() else []
  train_mu = tuple((float(a), float(a)) for a in grid)
  targets = train_mu + tuple((a, a) for a in held)
  cfg = ExperimentConfig(
    workdir=FLAGS.workdir,
    train_mu=train_mu,
    targets=targets,
    pde="helmholtz",
    init_cond="none",
    **_flags.experiment_kwargs("helmholtz", len(train_mu)),
  )
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
