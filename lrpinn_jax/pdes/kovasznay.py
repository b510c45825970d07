"""Kovasznay flow: steady incompressible Navier-Stokes over the Reynolds number, a system of
three fields (u, v, p) with an exact solution for every Re (Kovasznay 1948).

  u u_x + v u_y + p_x - (u_xx + u_yy) / Re = 0
  u v_x + v v_y + p_y - (v_xx + v_yy) / Re = 0
  u_x + v_y = 0,           (x, y) in [-0.5, 1.0] x [-0.5, 1.5],  mu = Re in [20, 100]

  lambda = Re / 2 - sqrt(Re^2 / 4 + 4 pi^2)
  u = 1 - e^(lambda x) cos(2 pi y),  v = lambda / (2 pi) e^(lambda x) sin(2 pi y),
  p = (1 - e^(2 lambda x)) / 2  (+ any constant)

Conditions: the exact velocity on the four sides ("bc"); the pressure is defined up to a
constant by the equations and the velocity data, so the problem fixes it by the exact pressure
on the outflow side x = 1.0 ("bc_p", the usual outlet condition). Errors of p are measured after
removing its mean over the test points (``mean_free``), so they do not depend on that choice.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from lrpinn_jax.problem import Dirichlet, Problem


def lam(re, xp=np):
  """lambda(Re) = Re / 2 - sqrt(Re^2 / 4 + 4 pi^2) (negative; -1.81 at Re = 20, -0.39 at 100)."""
  return re / 2.0 - xp.sqrt(re * re / 4.0 + 4.0 * math.pi**2)


def exact(x, y, re, xp=np):
  """(u, v, p) at points x, y (same shape) for one Re."""
  k = lam(re, xp)
  e = xp.exp(k * x)
  return (
    1.0 - e * xp.cos(2 * math.pi * y),
    k / (2 * math.pi) * e * xp.sin(2 * math.pi * y),
    (1.0 - e * e) / 2.0,
  )


def residual(u, z, mu):
  inv_re = 1.0 / mu["Re"]
  uu, vv = u("u"), u("v")
  momentum_x = uu * u.d("u", "x") + vv * u.d("u", "y") + u.d("p", "x") - inv_re * u.laplacian("u")
  momentum_y = uu * u.d("v", "x") + vv * u.d("v", "y") + u.d("p", "y") - inv_re * u.laplacian("v")
  return momentum_x, momentum_y, u.d("u", "x") + u.d("v", "y")


problem = Problem(
  name="kovasznay",
  coords={"x": (-0.5, 1.0), "y": (-0.5, 1.5)},
  fields=("u", "v", "p"),
  params={"Re": (20.0, 100.0)},
  residual=residual,
  conditions=(
    Dirichlet(("u", "v"), lambda z, mu: exact(z["x"], z["y"], mu["Re"], jnp)[:2], name="bc"),
    Dirichlet("p", lambda z, mu: exact(z["x"], z["y"], mu["Re"], jnp)[2], on="x=hi", name="bc_p"),
  ),
  exact=lambda z, mu: exact(z["x"], z["y"], mu["Re"]),
  equations=3,
  mean_free=("p",),
  error_groups={"velocity": ("u", "v")},
)
