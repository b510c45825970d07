"""The low-rank layer against the dense layer W = U diag(s) V^T."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.nn.layers import LowRankDense, merge_is_cheaper


@pytest.mark.parametrize("merge", [False, True])
def test_lowrank_equals_dense(merge, rng):
  d_in, d_out, r = 7, 5, 4
  layer = LowRankDense(d_out, r, merge=merge)
  p = layer.init(jax.random.key(0), jnp.ones(d_in), jnp.ones(r))["params"]
  p = {
    "U": jnp.asarray(rng.normal(size=(d_out, r)), jnp.float32),
    "V": jnp.asarray(rng.normal(size=(d_in, r)), jnp.float32),
    "b": jnp.asarray(rng.normal(size=d_out), jnp.float32),
  }
  s = jnp.asarray(rng.uniform(0.5, 2, size=r), jnp.float32)
  h = jnp.asarray(rng.normal(size=(3, d_in)), jnp.float32)
  w = np.asarray(p["U"]) @ np.diag(np.asarray(s)) @ np.asarray(p["V"]).T
  expected = np.asarray(h) @ w.T + np.asarray(p["b"])
  got = layer.apply({"params": p}, h, s)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_truncating_zero_entries_leaves_output_unchanged(rng):
  d, r = 6, 5
  s = jnp.asarray([1.3, 0.0, 0.7, 0.0, 2.0], jnp.float32)
  keep = np.flatnonzero(np.asarray(s) > 0)
  p = {
    "U": jnp.asarray(rng.normal(size=(d, r)), jnp.float32),
    "V": jnp.asarray(rng.normal(size=(d, r)), jnp.float32),
    "b": jnp.asarray(rng.normal(size=d), jnp.float32),
  }
  small = {"U": p["U"][:, keep], "V": p["V"][:, keep], "b": p["b"]}
  h = jnp.asarray(rng.normal(size=(4, d)), jnp.float32)
  full = LowRankDense(d, r).apply({"params": p}, h, s)
  trunc = LowRankDense(d, len(keep)).apply({"params": small}, h, s[keep])
  np.testing.assert_allclose(trunc, full, rtol=1e-5, atol=1e-6)


def test_merge_choice_by_flops():
  assert merge_is_cheaper(50, 50, 50)  # 2500 < 5000 multiply-adds per point
  assert not merge_is_cheaper(50, 50, 10)  # 2500 > 1000
