"""lrpinn_jax: Hyper-LR-PINN (low-rank PINNs + hypernetwork) for parameterized PDEs, in JAX."""
from lrpinn_jax import interop
from lrpinn_jax.data import DataConfig, TrainBatch
from lrpinn_jax.errors import UserError
from lrpinn_jax.layers import LowRankDense
from lrpinn_jax.model import HyperNetwork, LRPINN, ModelConfig, hyper_s, init_params, point_fn
from lrpinn_jax.pde import CDR1D, Helmholtz2D, make_pde
from lrpinn_jax.problem import Dirichlet, Initial, Neumann, Periodic, Problem
from lrpinn_jax.phase1 import LossConfig, Phase1Batch, Phase1State, init_phase1, make_phase1_step
from lrpinn_jax.phase2 import Phase2Batch, Phase2State, init_phase2, make_phase2_step
from lrpinn_jax.solver import Solver
from lrpinn_jax.checkpoint import load

__all__ = [
    "CDR1D", "DataConfig", "Dirichlet", "Helmholtz2D", "HyperNetwork", "Initial", "LRPINN",
    "LossConfig", "LowRankDense", "ModelConfig", "Neumann", "Periodic", "Phase1Batch",
    "Phase1State", "Phase2Batch", "Phase2State", "Problem", "Solver", "TrainBatch", "UserError",
    "hyper_s", "init_params", "init_phase1", "init_phase2", "interop", "load", "make_pde",
    "make_phase1_step", "make_phase2_step", "point_fn",
]
