"""The 1D convection-diffusion-reaction family, written with the public Problem API.

  u_t + beta u_x - nu u_xx - rho u (1 - u) = 0,  x in [0, 2 pi) periodic,  t in [0, 1],
  u(x, 0) = u0(x),  mu = (beta, nu, rho).

Presets name the members (``PRESETS``: which of beta, nu, rho each one uses; the others must be
0). Initial conditions (``INIT_CONDS``): "sin_1" u0 = 1 + sin x; "gauss_pi_4", "gauss_pi_2":
exp(-(x - pi)^2 / (2 sigma^2)) with sigma = pi/4, pi/2.

As a Problem: u_t + beta u_x is ONE directional derivative (one jvp along (beta, 1)); nu is a
``drop_zero`` parameter, so a program whose mu all have nu = 0 computes no u_xx and drops the
u_x-periodicity condition "bc_x" (only diffusion smooths u0's periodic kink: without it the
kink is carried along and u_x need not be periodic, so "bc_x" applies where nu != 0 only).
Points: collocation uniform in the box; the initial points on the uniform periodic grid
x_k = 2 pi k / n_0; the periodic-boundary times on a uniform grid including both ends.
Reference (numpy float64, lrpinn_jax.pdes.reference): nu = 0: closed form along characteristics;
rho = 0, nu > 0: exact Fourier solution; rho > 0, nu > 0: Strang splitting refined to 1e-6.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.pdes import reference
from lrpinn_jax.problem import Initial, Periodic, Problem, absent

# name -> Gaussian sigma (None: 1 + sin x).
INIT_CONDS = {"sin_1": None, "gauss_pi_4": math.pi / 4, "gauss_pi_2": math.pi / 2}

# preset -> which of (beta, nu, rho) it uses; the others are fixed to 0.
PRESETS = {
  "convection": (True, False, False),
  "diffusion": (False, True, False),
  "reaction": (False, False, True),
  "convection_diffusion": (True, True, False),
  "reaction_diffusion": (False, True, True),
  "cdr": (True, True, True),
}

X_RANGE = (0.0, 2.0 * math.pi)
T_RANGE = (0.0, 1.0)
# The parameter box of the Problem (the ranges the committed models cover); the commands train
# on their own --beta_range etc., and mu outside it are accepted (zero-shot beyond the box).
MU_BOX = {"beta": (0.0, 40.0), "nu": (0.0, 5.0), "rho": (0.0, 10.0)}


def initial_value(name: str, x, xp=np):
  """The initial condition ``name`` at x (any shape); xp is numpy or jax.numpy."""
  sigma = INIT_CONDS[name]
  if sigma is None:
    return 1.0 + xp.sin(x)
  return xp.exp(-((x - math.pi) ** 2) / (2.0 * sigma**2))


def _residual(u, z, mu):
  r = u.directional("u", {"x": mu["beta"], "t": 1.0}) - mu["rho"] * u("u") * (1.0 - u("u"))
  if not absent(mu["nu"]):
    r = r - mu["nu"] * u.d2("u", "x")
  return r


@dataclasses.dataclass(frozen=True, eq=False)
class CDRProblem(Problem):
  """A member of the family (``cdr``): a Problem plus its preset and initial-condition name."""

  preset: str = "convection"
  init_cond: str = "sin_1"

  @property
  def active(self):
    return PRESETS[self.preset]

  def u0(self, x, xp=np):
    """Initial condition at x (any shape); xp is numpy or jax.numpy."""
    return initial_value(self.init_cond, x, xp)

  def u0_slope_jump(self) -> float:
    """u0'(x_lo) - u0'(x_hi): the kink of u0's periodic extension (0 for 1 + sin x; for a
    Gaussian 2 (pi / sigma^2) exp(-pi^2 / (2 sigma^2)): 0.345 for sigma = pi/2, 3.4e-3 for
    sigma = pi/4)."""
    du0 = jax.grad(lambda x: self.u0(x, jnp))
    lo, hi = self.box("x")
    return float(du0(jnp.float32(lo)) - du0(jnp.float32(hi)))


def _exact(init_cond):
  def exact(z, mu):
    x, t = z["x"], z["t"]
    lo, hi = X_RANGE
    length = hi - lo
    beta, nu, rho = mu["beta"], mu["nu"], mu["rho"]
    u0 = lambda xs: initial_value(init_cond, xs)
    if nu == 0.0:
      return reference.logistic(u0(lo + np.mod(x - beta * t - lo, length)), rho, t)
    if rho == 0.0:
      grid = lo + length * np.arange(reference.DEFAULT_GRID) / reference.DEFAULT_GRID
      return reference.fourier_cd(u0(grid), lo, length, x, t, beta, nu)
    return reference.strang_cdr(u0, (lo, hi), x, t, beta, nu, rho)[0]

  return exact


def _mu_check(preset):
  def check(mu):
    for name, used in zip(("beta", "nu", "rho"), PRESETS[preset]):
      if not used and np.any(mu[name] != 0):
        return f"PDE {preset!r} has no {name} term: {name} must be 0"
    if np.any(mu["nu"] < 0):
      return "nu must be >= 0 (backward diffusion is ill-posed)"
    return None

  return check


def cdr(preset: str = "convection", init_cond: str = "sin_1") -> CDRProblem:
  """The family member ``preset`` with initial condition ``init_cond`` (module docstring)."""
  if preset not in PRESETS:
    raise UserError(f"unknown CDR preset {preset!r}; choose one of {tuple(PRESETS)}")
  if init_cond not in INIT_CONDS:
    raise UserError(f"unknown initial condition {init_cond!r}; choose one of {tuple(INIT_CONDS)}")
  return CDRProblem(
    name=preset,
    coords={"x": X_RANGE, "t": T_RANGE},
    time="t",
    fields=("u",),
    params=MU_BOX,
    residual=_residual,
    conditions=(
      Initial("u", lambda z, mu: initial_value(init_cond, z["x"], jnp), name="ic", points="grid"),
      Periodic("u", "x", name="bc", points="grid"),
      Periodic("u", "x", derivative_order=1, when="nu", name="bc_x", points="grid"),
    ),
    exact=_exact(init_cond),
    drop_zero=("nu",),
    mu_check=_mu_check(preset),
    source=preset,
    preset=preset,
    init_cond=init_cond,
  )
