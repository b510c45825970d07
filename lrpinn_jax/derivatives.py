"""Derivatives of a pointwise network u(x, t) with JAX transforms.

Written for ONE point; the caller vmaps over points (and over mu). Two modes give the same numbers:
  "jvp":  forward mode, one tangent per input direction (u_xx by a nested jvp);
  "grad": reverse mode, jax.grad of the scalar u (u_xx by grad of grad).
benchmarks/speed.py measures both; the default is the faster one (see BUILD_NOTES.md).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

DEFAULT_MODE = "jvp"
MODES = ("jvp", "grad")


class Derivs(NamedTuple):
  u: jnp.ndarray
  u_x: jnp.ndarray
  u_t: jnp.ndarray
  u_xx: jnp.ndarray


def derivs(u_fn: Callable, x: jnp.ndarray, t: jnp.ndarray, mode: str = DEFAULT_MODE,
           need_xx: bool = True) -> Derivs:
  """u, u_x, u_t and (if need_xx, else 0) u_xx of the scalar function u_fn at the point (x, t)."""
  one = jnp.ones_like(x)
  if mode == "jvp":
    u_of_x = lambda xx: u_fn(xx, t)
    u, u_x = jax.jvp(u_of_x, (x,), (one,))
    _, u_t = jax.jvp(lambda tt: u_fn(x, tt), (t,), (one,))
    if need_xx:
      _, u_xx = jax.jvp(lambda xx: jax.jvp(u_of_x, (xx,), (one,))[1], (x,), (one,))
    else:
      u_xx = jnp.zeros_like(u)
  elif mode == "grad":
    u, (u_x, u_t) = jax.value_and_grad(u_fn, argnums=(0, 1))(x, t)
    u_xx = jax.grad(jax.grad(u_fn, argnums=0), argnums=0)(x, t) if need_xx else jnp.zeros_like(u)
  else:
    raise ValueError(f"derivative mode must be one of {MODES}, got {mode!r}")
  return Derivs(u, u_x, u_t, u_xx)
