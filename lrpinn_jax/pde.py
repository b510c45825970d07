"""PDE definitions. A PDE is a small frozen dataclass: domain, initial condition, pointwise residual,
reference solution. The trainer only calls these members, so adding a PDE is adding a definition.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import numpy as np

from lrpinn_jax import derivatives
from lrpinn_jax.errors import UserError

INIT_CONDS = ("sin_1",)


@dataclasses.dataclass(frozen=True)
class CDR1D:
  """u_t + beta u_x - nu u_xx - rho u (1 - u) = 0, x in [0, 2 pi) periodic, t in [0, 1].

  mu = (beta, nu, rho). Initial condition "sin_1": u0(x) = 1 + sin(x).
  """
  name: str = "convection"
  init_cond: str = "sin_1"
  x_range: Tuple[float, float] = (0.0, 2.0 * math.pi)
  t_range: Tuple[float, float] = (0.0, 1.0)

  def __post_init__(self):
    if self.init_cond not in INIT_CONDS:
      raise UserError(f"unknown initial condition {self.init_cond!r}; choose one of {INIT_CONDS}")

  def u0(self, x, xp=np):
    """Initial condition at x (any shape); xp is numpy or jax.numpy."""
    return 1.0 + xp.sin(x)

  def residual(self, u_fn, x, t, mu, mode: str = derivatives.DEFAULT_MODE, need_xx: bool = True):
    """Residual at ONE point (x, t) for one mu (3,) of the scalar function u_fn(x, t).

    u_t + beta u_x is the derivative along (beta, 1): one jvp. need_xx=False skips u_xx (use it
    only when nu = 0 for every mu the step sees).
    """
    beta, nu, rho = mu[0], mu[1], mu[2]
    u, u_adv = derivatives.directional(u_fn, x, t, beta, 1.0, mode)
    res = u_adv - rho * u * (1.0 - u)
    if need_xx:
      res = res - nu * derivatives.d2(u_fn, x, t, 0, mode)
    return res

  @staticmethod
  def needs_uxx(mus: np.ndarray) -> bool:
    """Whether any mu in (n, 3) has diffusion, i.e. the residual needs u_xx."""
    return bool(np.any(np.asarray(mus)[..., 1] != 0))

  def reference(self, x, t, mu, n_modes: int = 256) -> np.ndarray:
    """Exact solution at points x, t (same shape), float64.

    Convection-diffusion (rho = 0): the Fourier solution
      u(x, t) = sum_k c_k exp(i k (x - beta t) - nu k^2 t),  c_k the Fourier coefficients of u0
    on an n_modes periodic grid; exact for band-limited u0 (1 + sin x needs 3 modes).
    """
    beta, nu, rho = (float(v) for v in mu)
    if rho != 0.0:
      raise UserError("reference solution for reaction (rho != 0) is not implemented yet")
    x = np.asarray(x, np.float64)
    t = np.asarray(t, np.float64)
    lo, hi = self.x_range
    length = hi - lo
    grid = lo + length * np.arange(n_modes) / n_modes
    c = np.fft.rfft(self.u0(grid)) / n_modes  # (n_modes // 2 + 1,)
    k = 2.0 * np.pi / length * np.arange(c.shape[0])
    weight = np.full(c.shape[0], 2.0)
    weight[0] = 1.0
    if n_modes % 2 == 0:
      weight[-1] = 1.0
    xs = (x - lo - beta * t)[..., None]
    phase = np.exp(1j * k * xs - nu * k ** 2 * t[..., None])
    return np.real(phase @ (weight * c))


PRESETS = {"convection": CDR1D}


def make_pde(name: str = "convection", init_cond: str = "sin_1") -> CDR1D:
  if name not in PRESETS:
    raise UserError(f"unknown PDE {name!r}; choose one of {tuple(PRESETS)}")
  return PRESETS[name](name=name, init_cond=init_cond)
