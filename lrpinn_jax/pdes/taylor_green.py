"""The Taylor-Green vortex: 2D incompressible Navier-Stokes in time over the viscosity, three
coordinates and three fields (u, v, p) with an exact solution for every nu.

  u_t + u u_x + v u_y + p_x - nu (u_xx + u_yy) = 0
  v_t + u v_x + v v_y + p_y - nu (v_xx + v_yy) = 0
  u_x + v_y = 0,     (x, y, t) in [0, 2 pi]^2 x [0, 1], periodic in x and y,  mu = nu in [0.01, 0.1]

  u = -cos x sin y e^(-2 nu t),  v = sin x cos y e^(-2 nu t),
  p = -(cos 2x + cos 2y) e^(-4 nu t) / 4

Conditions: the exact velocity at t = 0 ("ic"); u, v, p equal on opposite sides in x ("per_x")
and in y ("per_y"). The equations fix the pressure only up to an additive function of time c(t)
(it enters them through its gradient in x and y), so the problem fixes c(t) by the pressure's
mean over (x, y), 0 for the exact solution, at equispaced times ("p_mean"; pinning the exact
pressure at one point instead moved the whole field by that point's own error). Its errors are
measured after removing its mean over the test points (``mean_free``), as for a steady flow.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from lrpinn_jax.problem import Initial, Mean, Periodic, Problem

PERIOD = (0.0, 2.0 * math.pi)


def exact(x, y, t, nu, xp=np):
  """(u, v, p) at points x, y, t (same shape) for one nu."""
  d = xp.exp(-2.0 * nu * t)
  return (
    -xp.cos(x) * xp.sin(y) * d,
    xp.sin(x) * xp.cos(y) * d,
    -(xp.cos(2 * x) + xp.cos(2 * y)) * d * d / 4.0,
  )


def _origin_in_time(n, rng):
  """n points (0, 0, t) with t equispaced over [0, 1]."""
  del rng
  return np.stack([np.zeros(n), np.zeros(n), np.linspace(0.0, 1.0, n)], 1)


def residual(u, z, mu):
  nu = mu["nu"]
  uu, vv = u("u"), u("v")
  momentum_x = (
    u.d("u", "t") + uu * u.d("u", "x") + vv * u.d("u", "y") + u.d("p", "x") - nu * u.laplacian("u")
  )
  momentum_y = (
    u.d("v", "t") + uu * u.d("v", "x") + vv * u.d("v", "y") + u.d("p", "y") - nu * u.laplacian("v")
  )
  return momentum_x, momentum_y, u.d("u", "x") + u.d("v", "y")


problem = Problem(
  name="taylor_green",
  coords={"x": PERIOD, "y": PERIOD, "t": (0.0, 1.0)},
  time="t",
  fields=("u", "v", "p"),
  params={"nu": (0.01, 0.1)},
  residual=residual,
  conditions=(
    Initial(("u", "v"), lambda z, mu: exact(z["x"], z["y"], 0.0, mu["nu"], jnp)[:2]),
    Periodic(("u", "v", "p"), "x", name="per_x"),
    Periodic(("u", "v", "p"), "y", name="per_y"),
    Mean("p", over=("x", "y"), n=4, points=_origin_in_time, name="p_mean"),
  ),
  exact=lambda z, mu: exact(z["x"], z["y"], z["t"], mu["nu"]),
  equations=3,
  mean_free=("p",),
  error_groups={"velocity": ("u", "v")},
)


def uniform_nu_moments(x, y, t, lo: float, hi: float):
  """Exact mean and std of (u, v, p) for nu ~ U[lo, hi] at points x, y, t (same shape):
  each field is a function of (x, y) times e^(-k nu t) (k = 2 for u, v; 4 for p), and
  E e^(-k nu t) = (e^(-k lo t) - e^(-k hi t)) / (k t (hi - lo)) (1 at t = 0). Returns two arrays
  of that shape plus a trailing axis of the three fields."""
  x, y, t = (np.asarray(a, np.float64) for a in (x, y, t))

  def expect(k):
    with np.errstate(divide="ignore", invalid="ignore"):
      e = (np.exp(-k * lo * t) - np.exp(-k * hi * t)) / (k * t * (hi - lo))
    return np.where(t > 0, e, 1.0)

  shapes = exact(x, y, 0.0 * t, 0.0)  # the fields' (x, y) factors
  means, stds = [], []
  for f, k in zip(shapes, (2.0, 2.0, 4.0)):
    m1, m2 = expect(k), expect(2 * k)
    means.append(f * m1)
    stds.append(np.abs(f) * np.sqrt(np.maximum(m2 - m1**2, 0.0)))
  return np.stack(means, -1), np.stack(stds, -1)
