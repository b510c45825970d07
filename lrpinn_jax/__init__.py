"""lrpinn_jax: Hyper-LR-PINN (low-rank PINNs + hypernetwork) for parameterized PDEs, in JAX.

The package: ``problem`` (the user API: Problem, Fields, conditions), ``pdes`` (the built-in
problems), ``nn`` (the networks), ``fit`` (losses, Phase 1, Phase 2, LM, loops, recipes),
``query`` (Solver, many-query, inverse, UQ, design), ``io`` (checkpoints, official models, the
compilation cache), ``baselines`` (the paper's comparisons). The names below are the stable API.
"""

__version__ = "0.1.0"

# _blas first: one OpenBLAS thread for the LAPACK calls in XLA's CPU programs (lrpinn_jax/_blas.py)
from lrpinn_jax import _blas, _moved  # noqa: F401
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.phase1 import (
  LossConfig,
  Phase1Batch,
  Phase1State,
  init_phase1,
  make_phase1_step,
)
from lrpinn_jax.fit.phase2 import Phase2Batch, Phase2State, init_phase2, make_phase2_step
from lrpinn_jax.io import interop
from lrpinn_jax.io.checkpoint import load
from lrpinn_jax.nn.layers import LowRankDense
from lrpinn_jax.nn.model import LRPINN, HyperNetwork, ModelConfig, hyper_s, init_params, point_fn
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.problem import Data, Dirichlet, Initial, Mean, Neumann, Periodic, Problem, absent
from lrpinn_jax.query.solver import Solver

__all__ = [
  "Data",
  "DataConfig",
  "Dirichlet",
  "HyperNetwork",
  "Initial",
  "LRPINN",
  "LossConfig",
  "LowRankDense",
  "Mean",
  "ModelConfig",
  "Neumann",
  "Periodic",
  "Phase1Batch",
  "Phase1State",
  "Phase2Batch",
  "Phase2State",
  "Problem",
  "Solver",
  "UserError",
  "absent",
  "hyper_s",
  "init_params",
  "init_phase1",
  "init_phase2",
  "interop",
  "load",
  "make_pde",
  "make_phase1_step",
  "make_phase2_step",
  "point_fn",
]

_RENAMED = {
  "CDR1D": ("lrpinn_jax.pdes.registry", "CDR1D"),  # a deprecated function that builds the Problem
  "Helmholtz2D": ("lrpinn_jax.pdes.registry", "Helmholtz2D"),
}


_moved.install()


def __getattr__(name):
  """Old public names: CDR1D and Helmholtz2D still build their problem (with a one-line
  DeprecationWarning naming lrpinn_jax.pdes.cdr.cdr / lrpinn_jax.pdes.helmholtz.helmholtz); old
  module paths (lrpinn_jax.model...) give the moved module (lrpinn_jax._moved); TrainBatch is
  gone (points are dicts now) and says so."""
  if name in _RENAMED:
    import importlib

    module, attr = _RENAMED[name]
    return getattr(importlib.import_module(module), attr)
  if name in _moved.MOVED:  # lrpinn_jax.model etc.: the module at its new path, with a warning
    import importlib

    return importlib.import_module(f"lrpinn_jax.{name}")
  if name == "TrainBatch":
    raise AttributeError(
      "lrpinn_jax.TrainBatch was removed: training points are dicts "
      "{block: (n, d) array} from problem.sample_points(DataConfig, seed)"
    )
  raise AttributeError(f"module 'lrpinn_jax' has no attribute {name!r}")
