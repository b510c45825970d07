"""Viscous Burgers with a parameter in its initial condition, written with the public Problem
API as a user would (this file is also a template: copy it, edit it, and pass it to
`python -m experiments.train --problem=FILE`), and its exact solution by Cole-Hopf.

  u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],
  u(x, 0) = -A sin(pi x),  u(-1, t) = u(1, t) = 0
  mu = (nu, A): nu in [0.01/pi, 0.1/pi], A in [0.5, 1]  (nu = 0.01/pi, A = 1: the classic shock)

The exact solution, in numpy float64:

For u_t + u u_x = nu u_xx on the line with u(x, 0) = -A sin(pi x) (2-periodic, odd, so
u(+-1, t) = 0 for all t), phi = exp(-(1/2nu) int u dx) solves the heat equation and
u = -2 nu phi_x / phi gives

  u(x, t) = -A int sin(pi (x - e)) F(x - e) G(e) de / int F(x - e) G(e) de,
  F(y) = exp(-A (cos(pi y) - 1) / (2 pi nu)),  G(e) = exp(-e^2 / (4 nu t)).

Both integrals are taken by the trapezoid rule on a uniform grid in e, with the exponents
combined and their maximum removed first (for nu = 0.01/pi, F alone spans e^100).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from lrpinn_jax.problem import Dirichlet, Initial, Problem

DEFAULT_NODES = 4001


def cole_hopf(x, t, nu: float, amplitude: float = 1.0, nodes: int = DEFAULT_NODES) -> np.ndarray:
  """u at points x, t (same shape) for viscosity nu > 0 and amplitude A, float64.

  The grid in e covers 12 standard deviations of G where that is narrower than [-3, 3] (early
  times), else [-3, 3] (where F G is below e^-40 of its peak beyond |e| = 1.4 for every nu and A
  of the problem's box), with ``nodes`` points.
  """
  x = np.asarray(x, np.float64)
  t = np.broadcast_to(np.asarray(t, np.float64), x.shape)
  flat_x, flat_t = x.ravel(), t.ravel()
  out = -amplitude * np.sin(np.pi * flat_x)  # t = 0
  later = np.flatnonzero(flat_t > 0.0)
  grid = np.linspace(-1.0, 1.0, nodes)
  for chunk in np.array_split(later, max(1, len(later) // 256)):  # (nodes, 256) float64 at a time
    if not len(chunk):
      continue
    width = np.sqrt(4.0 * nu * flat_t[chunk])
    e = np.minimum(3.0, 12.0 * width) * grid[:, None]  # (nodes, n)
    y = flat_x[chunk] - e
    expo = -amplitude * (np.cos(np.pi * y) - 1.0) / (2.0 * np.pi * nu) - (e / width) ** 2
    w = np.exp(expo - expo.max(0))
    out[chunk] = -amplitude * (
      np.trapezoid(np.sin(np.pi * y) * w, e, axis=0) / np.trapezoid(w, e, axis=0)
    )
  return out.reshape(x.shape)


problem = Problem(
  name="burgers",
  coords={"x": (-1.0, 1.0), "t": (0.0, 1.0)},
  time="t",
  fields=("u",),
  params={"nu": (0.01 / math.pi, 0.1 / math.pi), "A": (0.5, 1.0)},
  residual=lambda u, z, mu: u.d("u", "t") + u("u") * u.d("u", "x") - mu["nu"] * u.d2("u", "x"),
  conditions=(
    Initial("u", lambda z, mu: -mu["A"] * jnp.sin(math.pi * z["x"])),
    Dirichlet("u", lambda z, mu: 0.0, on="x"),
  ),
  exact=lambda z, mu: cole_hopf(z["x"], z["t"], mu["nu"], mu["A"]),
)
