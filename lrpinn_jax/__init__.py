"""lrpinn_jax: Hyper-LR-PINN (low-rank PINNs + hypernetwork) for parameterized PDEs, in JAX."""
from lrpinn_jax import interop
from lrpinn_jax.data import DataConfig
from lrpinn_jax.errors import UserError
from lrpinn_jax.layers import LowRankDense
from lrpinn_jax.model import HyperNetwork, LRPINN, ModelConfig, hyper_s, init_params, point_fn
from lrpinn_jax.pde import make_pde
from lrpinn_jax.problem import Data, Dirichlet, Initial, Neumann, Periodic, Problem, absent
from lrpinn_jax.phase1 import LossConfig, Phase1Batch, Phase1State, init_phase1, make_phase1_step
from lrpinn_jax.phase2 import Phase2Batch, Phase2State, init_phase2, make_phase2_step
from lrpinn_jax.solver import Solver
from lrpinn_jax.checkpoint import load

__all__ = [
    "Data", "DataConfig", "Dirichlet", "HyperNetwork", "Initial", "LRPINN", "LossConfig",
    "LowRankDense", "ModelConfig", "Neumann", "Periodic", "Phase1Batch", "Phase1State",
    "Phase2Batch", "Phase2State", "Problem", "Solver", "UserError", "absent", "hyper_s",
    "init_params", "init_phase1", "init_phase2", "interop", "load", "make_pde",
    "make_phase1_step", "make_phase2_step", "point_fn",
]

_RENAMED = {
    "CDR1D": ("lrpinn_jax.pde", "CDR1D"),  # a deprecated function that builds the Problem
    "Helmholtz2D": ("lrpinn_jax.pde", "Helmholtz2D"),
}


def __getattr__(name):
  """Old public names: CDR1D and Helmholtz2D still build their problem (with a one-line
  DeprecationWarning naming lrpinn_jax.pdes.cdr.cdr / lrpinn_jax.pdes.helmholtz.helmholtz);
  TrainBatch is gone (points are dicts now) and says so."""
  if name in _RENAMED:
    import importlib
    module, attr = _RENAMED[name]
    return getattr(importlib.import_module(module), attr)
  if name == "TrainBatch":
    raise AttributeError("lrpinn_jax.TrainBatch was removed: training points are dicts "
                         "{block: (n, d) array} from problem.sample_points(DataConfig, seed)")
  raise AttributeError(f"module 'lrpinn_jax' has no attribute {name!r}")
