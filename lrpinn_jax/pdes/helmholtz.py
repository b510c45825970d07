"""2D Helmholtz with a manufactured solution, written with the public Problem API.

  u_xx + u_yy + k^2 u - q(x, y; a1, a2) = 0 on [-1, 1]^2,  u = exact on the boundary,
  exact u = sin(a1 pi x) sin(a2 pi y),  q = (k^2 - (a1 pi)^2 - (a2 pi)^2) sin(a1 pi x) sin(a2 pi y).

The residual is divided by c = k^2 + (a1 pi)^2 + (a2 pi)^2 (``scale_residual``): q is O(c) ~ 100
for a in [2, 3], so unscaled the PDE term would outweigh the O(1) boundary misfit by ~c^2 in the
loss; scaled, both are O(1). The scaling does not change the solution. Boundary points: n_b
equispaced points on each side (y = -1, y = 1, x = -1, x = 1, in that order).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from lrpinn_jax.problem import Dirichlet, Problem

BOX = (-1.0, 1.0)
MU_BOX = {"a1": (2.0, 3.0), "a2": (2.0, 3.0)}  # the committed model's range; others accepted


def exact_solution(x, y, a1, a2, xp=np):
  return xp.sin(a1 * math.pi * x) * xp.sin(a2 * math.pi * y)


def helmholtz(k: float = 1.0, scale_residual: bool = True) -> Problem:
  """The Helmholtz problem over mu = (a1, a2) (module docstring)."""

  def residual(u, z, mu):
    a1, a2 = mu["a1"] * math.pi, mu["a2"] * math.pi
    q = (k**2 - a1**2 - a2**2) * (jnp.sin(a1 * z["x"]) * jnp.sin(a2 * z["y"]))
    res = u.laplacian("u") + k**2 * u("u") - q
    return res / (k**2 + a1**2 + a2**2) if scale_residual else res

  return Problem(
    name="helmholtz",
    coords={"x": BOX, "y": BOX},
    fields=("u",),
    params=MU_BOX,
    residual=residual,
    conditions=(
      Dirichlet(
        "u",
        lambda z, mu: exact_solution(z["x"], z["y"], mu["a1"], mu["a2"], jnp),
        on=("y", "x"),
        name="bc",
        points="grid",
      ),
    ),
    exact=lambda z, mu: exact_solution(z["x"], z["y"], mu["a1"], mu["a2"]),
    source="helmholtz",
  )
