"""Hyper-LR-PINN on any parameterized PDE written with lrpinn_jax.problem: Phase 1 over a grid
(or set) of mu in the problem's box, zero-shot, Phase 2 per target, results.json.

  python -m experiments.train --problem=path/to/problem.py --workdir=runs/mine
  python -m experiments.train --problem=burgers --mu_grid=5 --targets=0.01,0.9

--problem: a built-in problem name (burgers, kovasznay, taylor_green), a file (its object
``problem``), FILE.py:NAME, or module:NAME. The model's model.json records it, so lrpinn_jax.load
and the other commands (--checkpoint=DIR) rebuild the problem. Runs the problem's own recipe if it
has one (by its name), else the generic one.
"""

from __future__ import annotations

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import recipes
from lrpinn_jax.fit.experiment import ExperimentConfig, run
from lrpinn_jax.pdes.registry import CDR_PRESETS, make_pde

from . import _cli, _flags

flags.adopt_module_key_flags(_flags)
__doc__ += "\n" + recipes.describe("generic")
flags.DEFINE_string("problem", None, "the problem: a built-in name, FILE.py[:NAME] or module:NAME")
flags.DEFINE_integer(
  "mu_grid",
  5,
  "training mu: this many values per parameter, evenly spaced over the problem's box (a full grid)",
  lower_bound=1,
)
flags.DEFINE_string(
  "mu_set",
  None,
  "train on this set of mu instead of the grid: a CSV / JSON "
  "file of rows, one number per parameter, or mu 'a,b;c,d'",
)
flags.DEFINE_string(
  "targets",
  "all",
  "'all' (the training mu), or mu 'a,b;c,d' (one number per "
  "parameter, in the problem's order), or a file as for --mu_set",
)
flags.DEFINE_string("workdir", None, "output directory (default runs/<problem name>)")
FLAGS = flags.FLAGS


# Built-in problems with a command of their own (their grids and recipes are flags there).
COMMAND_OF = {
  **{p: "experiments.cdr" for p in CDR_PRESETS},
  "convection": "experiments.convection",
  "helmholtz": "experiments.helmholtz",
}


def main(argv):
  del argv
  _flags.start_processes()
  if not FLAGS.problem:
    raise UserError("--problem is required: a built-in name, FILE.py[:NAME] or module:NAME")
  problem = make_pde(FLAGS.problem)
  if FLAGS.problem in COMMAND_OF:
    raise UserError(
      f"--problem={FLAGS.problem} is a PDE of the built-in family: train it with "
      f"{COMMAND_OF[FLAGS.problem]} (its own flags and recipes)"
    )
  if FLAGS.mu_set:
    train_mu = _cli.parse_mu_list("mu_set", FLAGS.mu_set, problem.mu_names)
  else:
    axes = [np.linspace(lo, hi, FLAGS.mu_grid) for lo, hi in problem.mu_box]
    train_mu = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, problem.mu_dim)
  targets = (
    train_mu
    if FLAGS.targets == "all"
    else _cli.parse_mu_list("targets", FLAGS.targets, problem.mu_names)
  )
  recipe = problem.name if problem.name in recipes.BEST else "generic"
  cfg = ExperimentConfig(
    workdir=FLAGS.workdir or f"runs/{problem.name}",
    train_mu=tuple(map(tuple, train_mu.tolist())),
    targets=tuple(map(tuple, targets.tolist())),
    pde=problem.source or problem.name,
    **_flags.experiment_kwargs(recipe, len(train_mu)),
  )
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
