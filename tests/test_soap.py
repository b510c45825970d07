"""SOAP (lrpinn_jax.fit.soap) against closed forms."""

import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.fit import soap


def test_soap_is_adam_when_the_kronecker_basis_is_a_signed_permutation():
  """Step 1's factors G G^T = diag(9, 1), G^T G = diag(9, 1, 0) have a signed permutation as
  eigenbasis; Adam is elementwise, so Adam in that basis is Adam: the same updates as optax.adam
  for every later gradient until the basis is refreshed (every 10 steps here)."""
  rng = np.random.default_rng(0)
  grads = [np.array([[3.0, 0, 0], [0, 1.0, 0]])] + [rng.normal(size=(2, 3)) for _ in range(4)]
  params = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
  opts = [soap.soap(1e-2, precondition_every=10), optax.adam(1e-2, b1=0.9, b2=0.999, eps=1e-8)]
  states = [o.init(params) for o in opts]
  for g in grads:
    gt = {"w": jnp.asarray(g, jnp.float32), "b": jnp.asarray(g[0], jnp.float32)}
    ups = []
    for i, o in enumerate(opts):
      u, states[i] = o.update(gt, states[i], params)
      ups.append(u)
    for k in ("w", "b"):
      np.testing.assert_allclose(ups[0][k], ups[1][k], rtol=1e-5, atol=1e-7)
