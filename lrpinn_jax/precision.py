"""The working float type: float32, or float64 once ``enable_x64()`` (``--x64``) has run.

Every array the library builds from user input (mu, points, test coordinates) and every parameter
tree it initialises or loads is cast to ``real()``, so one switch runs a whole command in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError


def enable_x64() -> None:
  """Switch JAX to 64-bit types (jax_enable_x64); call before any array is created."""
  jax.config.update("jax_enable_x64", True)


def real():
  """jnp.float64 when jax_enable_x64 is on, else jnp.float32."""
  return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def np_real() -> np.dtype:
  return np.dtype(real())


def cast(tree, dtype=None):
  """Every floating leaf of ``tree`` as ``dtype`` (default ``real()``); float64 needs x64 on."""
  dtype = np.dtype(real() if dtype is None else dtype)
  if dtype == np.float64 and not jax.config.jax_enable_x64:
    raise UserError(
      "float64 needs 64-bit JAX: pass --x64 or call lrpinn_jax.precision.enable_x64() first"
    )
  return jax.tree.map(
    lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
  )
