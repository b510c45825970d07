"""Uncertainty propagation: closed-form statistics (a model affine in mu; exact convection)."""

import numpy as np
import pytest

from lrpinn_jax.query import uq

X, T = np.linspace(0, 2 * np.pi, 16, endpoint=False), np.linspace(0, 1, 5)
XX, TT = np.meshgrid(X, T)
A, B = np.sin(XX) + TT, 1.0 + XX * TT


def _affine(mus):
  """u = A + mu_0 B on the grid, for a chunk of mu: (c, len(T), len(X))."""
  return A[None] + np.asarray(mus)[:, 0, None, None] * B[None]


@pytest.mark.parametrize("rule, n, tol", [("quadrature", 4, 1e-12), ("qmc", 1024, 1e-3)])
def test_affine_model_uniform_mu(rule, n, tol):
  dist = uq.Dist("uniform", ((30.0, 40.0),), (0,), (0.0, 0.0, 0.0))
  z, w = dist.nodes(rule, n)
  stats = uq.statistics(_affine, dist.full(z), w, chunk=3)
  np.testing.assert_allclose(stats["mean"], A + 35.0 * B, rtol=tol)
  np.testing.assert_allclose(stats["std"], np.abs(B) * 10.0 / np.sqrt(12.0), rtol=tol * 10)
  np.testing.assert_allclose(stats["quantiles"][1], A + 35.0 * B, rtol=0.05)  # the median


def test_affine_model_normal_mu_by_gauss_hermite():
  dist = uq.Dist("normal", ((35.0, 2.0),), (0,), (0.0, 0.0, 0.0))
  z, w = dist.nodes("quadrature", 5)
  stats = uq.statistics(_affine, dist.full(z), w, chunk=5)
  np.testing.assert_allclose(stats["mean"], A + 35.0 * B, rtol=1e-12)
  np.testing.assert_allclose(stats["std"], 2.0 * np.abs(B), rtol=1e-10)


def test_exact_convection_statistics_match_numerical_integration():
  g, w = np.polynomial.legendre.leggauss(400)
  betas = 30.0 + (g + 1) * 5.0
  u = 1.0 + np.sin(XX[None] - betas[:, None, None] * TT[None])
  mean = np.tensordot(w / 2, u, 1)
  var = np.tensordot(w / 2, (u - mean) ** 2, 1)
  m, s = uq.convection_uniform_exact(X, T, 30.0, 40.0)
  np.testing.assert_allclose(m, mean, atol=1e-12)
  np.testing.assert_allclose(s**2, var, atol=1e-12)


def test_monte_carlo_standard_error_and_bounded_chunks():
  dist = uq.Dist("uniform", ((30.0, 40.0),), (0,), (0.0, 0.0, 0.0))
  z, w = dist.nodes("mc", 5000, seed=3)
  stats = uq.statistics(_affine, dist.full(z), w, chunk=256)
  np.testing.assert_allclose(stats["stderr"], stats["std"] / np.sqrt(5000))
  err = np.abs(stats["mean"] - (A + 35.0 * B))
  assert np.all(err <= 4.5 * stats["stderr"] + 1e-12)  # a 4.5-sigma band at every grid point


def test_vector_field_statistics_on_a_three_coordinate_grid():
  # The exact Taylor-Green field in place of a model (evaluated in float32, hence atol 1e-6):
  # mean and std of u, v, p over nu ~ U[0.02, 0.08] on an (x, y, t) grid, against the closed
  # form; the grid's axes come in reverse coordinate order (t, y, x) with the fields last.
  import jax.numpy as jnp

  from lrpinn_jax.pdes import taylor_green
  from lrpinn_jax.pdes.registry import make_pde

  def exact_solver(x, y, t, mu):
    return jnp.stack(taylor_green.exact(x, y, t, mu[0], jnp), -1)

  pde = make_pde("taylor_green")
  dist = uq.Dist("uniform", ((0.02, 0.08),), (0,), (0.0,))
  res = uq.run(exact_solver, pde, dist, n=8, sizes=(6, 5, 4), chunk=3)
  x, y, t = res["axes"]
  assert x[-1] < 2 * np.pi and t[-1] == 1.0  # periodic coordinates leave out their hi end
  assert res["mean"].shape == (4, 5, 6, 3)
  tt, yy, xx = np.meshgrid(t, y, x, indexing="ij")
  mean, std = taylor_green.uniform_nu_moments(xx, yy, tt, 0.02, 0.08)
  np.testing.assert_allclose(res["mean"], mean, atol=1e-6)
  np.testing.assert_allclose(res["std"], std, atol=1e-6)
  assert np.max(std[..., 2]) > 0.01  # the spread is real, not zero
