"""The low-rank layer h -> U diag(s) V^T h + b, with s supplied by the caller.

The diagonal ``s`` is an *input*, not a parameter: in Phase 1 it comes from the hypernetwork, in
Phase 2 it is the trainable vector. This keeps the layer a pure function of (params, h, s).
"""

from __future__ import annotations

from typing import Optional

import flax.linen as nn
import jax.numpy as jnp

# Defined once: bases start orthonormal (the orthogonality penalty keeps them close), bias at zero.
default_basis_init = nn.initializers.orthogonal()
default_bias_init = nn.initializers.zeros_init()


def merge_is_cheaper(d_in: int, d_out: int, rank: int) -> bool:
  """True when forming W = U diag(s) V^T once is cheaper per point than the factored product.

  Factored: rank * (d_in + d_out) multiply-adds per point. Merged: d_in * d_out per point plus
  rank * d_in * d_out once per call (i.e. once per mu, since the layer is vmapped over points and
  W does not depend on the point, vmap leaves it unbatched).
  """
  return d_in * d_out < rank * (d_in + d_out)


class LowRankDense(nn.Module):
  """y = U diag(s) V^T h + b for one point h.

  Attributes:
    features: output width d_out.
    rank: r, the number of columns of U (d_out, r) and V (d_in, r).
    use_bias: whether to add b (d_out,). The official model has no bias here.
    merge: None picks the cheaper of factored/merged by FLOP count (``merge_is_cheaper``);
      True/False forces it. Both give the same function.

  >>> import jax, jax.numpy as jnp
  >>> layer = LowRankDense(features=4, rank=2)
  >>> p = layer.init(jax.random.key(0), jnp.ones(3), jnp.ones(2))
  >>> jax.tree.map(jnp.shape, p["params"])
  {'U': (4, 2), 'V': (3, 2), 'b': (4,)}
  """

  features: int
  rank: int
  use_bias: bool = True
  merge: Optional[bool] = None
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, h: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    """Args: h (..., d_in), s (rank,). Returns (..., features)."""
    d_in = h.shape[-1]
    u = self.param("U", default_basis_init, (self.features, self.rank), self.param_dtype)
    v = self.param("V", default_basis_init, (d_in, self.rank), self.param_dtype)
    merge = self.merge
    if merge is None:
      merge = merge_is_cheaper(d_in, self.features, self.rank)
    if merge:
      y = h @ ((v * s) @ u.T)  # W^T = V diag(s) U^T, (d_in, d_out)
    else:
      y = ((h @ v) * s) @ u.T
    if self.use_bias:
      y = y + self.param("b", default_bias_init, (self.features,), self.param_dtype)
    return y
