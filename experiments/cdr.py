"""Hyper-LR-PINN on any member of the 1D convection-diffusion-reaction family.

  python -m experiments.cdr --pde=cdr --init_cond=gauss_pi_2 --beta_range=1,5 --nu_range=1,5
      --rho_range=1,5 [--targets=all | 'b,n,r;b,n,r' | SET] [--workdir=runs/cdr]
  python -m experiments.cdr --mu_set=cdr_family_1_5 [--targets=cdr_family_1_5_heldout]

Integer grids by default (--beta_step etc.); the range of a coefficient the preset does not use may
be omitted (it is 0). --mu_set trains on an explicit set instead (a named set or a CSV / JSON file
of beta,nu,rho rows, lrpinn_jax.pdes.mu_sets; e.g. cdr_family_1_5: P2INN's 190 mu over all
sub-families), with the "cdr_family" recipe and the Gaussian sigma = pi/2 u0 unless told
otherwise. Same flags, progress output, checkpoints and results.json as experiments.convection;
results.json also holds "summary" (mean and worst error over the targets) and, for targets of
several sub-families, "summary_by_family".
"""

from __future__ import annotations

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import recipes
from lrpinn_jax.fit.experiment import KINK_TOL, ExperimentConfig, mu_grid, run
from lrpinn_jax.pdes import mu_sets
from lrpinn_jax.pdes.registry import CDR_PRESETS, INIT_CONDS, make_pde

from . import _cli, _flags

flags.adopt_module_key_flags(_flags)
__doc__ += "\n" + recipes.describe(*(f"cdr/{p}" for p in CDR_PRESETS), "cdr_family")
flags.DEFINE_enum("pde", "cdr", list(CDR_PRESETS), "member of the CDR family")
flags.DEFINE_enum(
  "init_cond",
  None,
  list(INIT_CONDS),
  "initial condition: 1 + sin x, or a "
  "Gaussian with sigma = pi/4 or pi/2 (default: sin_1; gauss_pi_2 with --mu_set)",
)
flags.DEFINE_string(
  "mu_set",
  None,
  "train on this set of mu instead of the --*_range grid: "
  f"{' or '.join(mu_sets.NAMED)}, or a CSV / JSON file of beta,nu,rho rows",
)
for _name in ("beta", "nu", "rho"):
  flags.DEFINE_string(
    f"{_name}_range",
    None,
    f"training {_name} range 'lo,hi' (inclusive); omit for a coefficient the preset does not use",
  )
  flags.DEFINE_float(f"{_name}_step", 1.0, f"step of the training {_name} grid")
flags.DEFINE_string(
  "targets",
  "all",
  "'all' (the training mu), mu triples 'b,n,r;b,n,r', or a named set or file as for --mu_set",
)
flags.DEFINE_string("workdir", "runs/cdr", "output directory (checkpoints, results.json)")
FLAGS = flags.FLAGS


def _grid_from_flags(used):
  """The training grid of --beta_range etc.: (n, 3)."""
  ranges, steps = [], []
  for name, on in zip(("beta", "nu", "rho"), used):
    text = getattr(FLAGS, f"{name}_range")
    if text is None:
      if on:
        raise UserError(f"--pde={FLAGS.pde} uses {name}: pass --{name}_range=lo,hi")
      ranges.append((0.0, 0.0))
    else:
      ranges.append(_cli.parse_range(f"{name}_range", text))
    steps.append(_cli.positive(f"{name}_step", getattr(FLAGS, f"{name}_step")))
  return mu_grid(ranges, steps)


def main(argv):
  del argv
  _flags.start_processes()
  if FLAGS.mu_set:
    given = [n for n in ("beta", "nu", "rho") if getattr(FLAGS, f"{n}_range") is not None]
    if given:
      raise UserError(f"--mu_set replaces the grid: drop --{'_range, --'.join(given)}_range")
    train_mu = mu_sets.load(FLAGS.mu_set)
    problem = "cdr_family"
  else:
    train_mu = _grid_from_flags(CDR_PRESETS[FLAGS.pde])
    problem = f"cdr/{FLAGS.pde}"
  init_cond = FLAGS.init_cond or ("gauss_pi_2" if FLAGS.mu_set else "sin_1")
  targets = train_mu if FLAGS.targets == "all" else _cli.parse_mu_list("targets", FLAGS.targets)
  kwargs = _flags.experiment_kwargs(problem, len(train_mu))
  pde = make_pde(FLAGS.pde, init_cond)
  if (
    FLAGS.periodic is None
    and FLAGS.periodic_x is None
    and kwargs["periodic"]
    and kwargs["hard_ic"]
    and pde.needs_uxx(train_mu)
    and abs(pde.u0_slope_jump()) > KINK_TOL
  ):
    # The recipe's periodic embedding cannot go with its hard initial condition when u0 has a
    # periodic kink and diffusion smooths it (ExperimentConfig.validate): keep the hard IC.
    kwargs["periodic"] = False
  cfg = ExperimentConfig(
    workdir=FLAGS.workdir,
    train_mu=tuple(map(tuple, train_mu.tolist())),
    targets=tuple(map(tuple, np.asarray(targets).tolist())),
    pde=FLAGS.pde,
    init_cond=init_cond,
    **kwargs,
  )
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
