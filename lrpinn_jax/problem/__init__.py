"""Your own parameterized PDE: a Problem (coordinates, fields, parameters, residual at one point,
conditions) that every trainer and command of lrpinn_jax accepts. See README.md, "Your own PDE"."""

from lrpinn_jax.problem._conditions import Condition as Condition
from lrpinn_jax.problem._conditions import Data as Data
from lrpinn_jax.problem._conditions import Dirichlet as Dirichlet
from lrpinn_jax.problem._conditions import Initial as Initial
from lrpinn_jax.problem._conditions import Mean as Mean
from lrpinn_jax.problem._conditions import Neumann as Neumann
from lrpinn_jax.problem._conditions import Periodic as Periodic
from lrpinn_jax.problem._fields import Fields as Fields
from lrpinn_jax.problem._problem import Problem as Problem
from lrpinn_jax.problem._problem import absent as absent
from lrpinn_jax.problem._source import load_problem as load_problem

__all__ = [
  "Condition",
  "Data",
  "Dirichlet",
  "Fields",
  "Initial",
  "Mean",
  "Neumann",
  "Periodic",
  "Problem",
  "absent",
  "load_problem",
]
