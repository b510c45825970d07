"""Hyper-LR-PINN on 1D convection: Phase 1 over a beta grid, zero-shot, Phase 2 per target.

  python -m experiments.convection --beta_range=30,40 [--targets=30,35,40] [--workdir=runs/conv]

Runs the best measured recipe unless told otherwise (--recipe=paper for the paper's); writes
<workdir>/results.json, phase1_history.jsonl, model.json and checkpoints/.
"""

from __future__ import annotations

from absl import flags

from lrpinn_jax.fit import recipes
from lrpinn_jax.fit.experiment import ExperimentConfig, mu_grid, run

from . import _cli, _flags

flags.adopt_module_key_flags(_flags)
__doc__ += "\n" + recipes.describe("convection")
flags.DEFINE_string("beta_range", "30,40", "training beta range 'lo,hi' (inclusive)")
flags.DEFINE_float("beta_step", 1.0, "step of the training beta grid")
flags.DEFINE_string("targets", "30,35,40", "comma-separated target betas for zero-shot and Phase 2")
flags.DEFINE_string("workdir", "runs/convection", "output directory (checkpoints, results.json)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  _flags.start_processes()
  lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  step = _cli.positive("beta_step", FLAGS.beta_step)
  train_mu = mu_grid([(lo, hi), (0.0, 0.0), (0.0, 0.0)], [step, 1.0, 1.0])
  targets = [(b, 0.0, 0.0) for b in _cli.parse_floats("targets", FLAGS.targets)]
  cfg = ExperimentConfig(
    workdir=FLAGS.workdir,
    train_mu=tuple(map(tuple, train_mu.tolist())),
    targets=tuple(targets),
    pde="convection",
    **_flags.experiment_kwargs("convection", len(train_mu)),
  )
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
