"""Derivatives of a pointwise network u(x, t) with JAX transforms.

Written for ONE point; the caller vmaps over points (and over mu). Two modes give the same numbers:
  "jvp":  forward mode: one tangent for a directional derivative, a nested jvp for u_xx;
  "grad": reverse mode: jax.grad of the scalar u, grad of grad for u_xx.
The CDR residual needs u_t + beta u_x, which is ONE directional derivative along (beta, 1): in jvp
mode that costs one tangent instead of two. benchmarks/speed.py measures both modes; the default is
the faster one (see BUILD_NOTES.md).
"""
from __future__ import annotations

from typing import Callable, Tuple

import jax
import jax.numpy as jnp

DEFAULT_MODE = "jvp"
MODES = ("jvp", "grad")


def _check(mode: str):
  if mode not in MODES:
    raise ValueError(f"derivative mode must be one of {MODES}, got {mode!r}")


def directional(u_fn: Callable, x, t, v_x, v_t, mode: str = DEFAULT_MODE
                ) -> Tuple[jnp.ndarray, jnp.ndarray]:
  """(u, v_x u_x + v_t u_t) of the scalar function u_fn at the point (x, t)."""
  _check(mode)
  if mode == "jvp":
    return jax.jvp(u_fn, (x, t), (v_x * jnp.ones_like(x), v_t * jnp.ones_like(t)))
  u, (u_x, u_t) = jax.value_and_grad(u_fn, argnums=(0, 1))(x, t)
  return u, v_x * u_x + v_t * u_t


def d2(u_fn: Callable, x, t, argnum: int, mode: str = DEFAULT_MODE) -> jnp.ndarray:
  """Second derivative of u_fn with respect to input ``argnum`` (0: x, 1: t) at (x, t)."""
  _check(mode)
  args = (x, t)
  if mode == "grad":
    return jax.grad(jax.grad(u_fn, argnum), argnum)(x, t)

  def first(z):
    a = list(args)
    a[argnum] = z
    f = lambda zz: u_fn(*a[:argnum], zz, *a[argnum + 1:])
    return jax.jvp(f, (z,), (jnp.ones_like(z),))[1]

  return jax.jvp(first, (args[argnum],), (jnp.ones_like(args[argnum]),))[1]
