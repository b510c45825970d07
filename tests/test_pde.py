"""Residual operator and reference solutions against closed forms."""

import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.pdes.registry import make_pde
from tests.conftest import residual_at


@pytest.fixture
def pde():
  return make_pde("convection")


def _points(rng, n=50):
  return (
    jnp.asarray(rng.uniform(0, 2 * np.pi, n), jnp.float32),
    jnp.asarray(rng.uniform(0, 1, n), jnp.float32),
  )


def test_residual_of_exact_convection_solution_is_zero(pde, rng):
  beta = 30.0
  mu = jnp.array([beta, 0.0, 0.0])
  exact = lambda x, t: 1.0 + jnp.sin(x - beta * t)
  x, t = _points(rng)
  res = residual_at(pde, exact, (x, t), mu, need_xx=False)
  assert np.max(np.abs(res)) < 1e-4
  # a wrong function (wrong speed) leaves a residual of size ~ beta * |cos|
  wrong = lambda x, t: 1.0 + jnp.sin(x - 0.9 * beta * t)
  res_w = residual_at(pde, wrong, (x, t), mu, need_xx=False)
  assert np.max(np.abs(res_w)) > 1.0


def test_residual_with_diffusion(pde, rng):
  beta, nu = 5.0, 0.3
  mu = jnp.array([beta, nu, 0.0])
  exact = lambda x, t: 1.0 + jnp.exp(-nu * t) * jnp.sin(x - beta * t)
  x, t = _points(rng)
  res = residual_at(pde, exact, (x, t), mu, need_xx=True)
  assert np.max(np.abs(res)) < 1e-5
  res_no_xx = residual_at(pde, exact, (x, t), mu, need_xx=False)
  assert np.max(np.abs(res_no_xx)) > 0.1


def test_residual_hand_computed_with_reaction(pde):
  # u = x^2 t at (x, t) = (2, 3): u = 12, u_x = 12, u_t = 4, u_xx = 6
  u = lambda x, t: x**2 * t
  mu = jnp.array([2.0, 0.5, 0.1])
  res = residual_at(pde, u, (jnp.array([2.0]), jnp.array([3.0])), mu)[0]
  expected = 4.0 + 2.0 * 12.0 - 0.5 * 6.0 - 0.1 * 12.0 * (1 - 12.0)
  np.testing.assert_allclose(float(res), expected, rtol=1e-6)


def test_reference_pure_convection(pde, rng):
  x = rng.uniform(0, 2 * np.pi, 200)
  t = rng.uniform(0, 1, 200)
  for beta in (1.0, 30.0, 40.0):
    np.testing.assert_allclose(
      pde.reference(x, t, (beta, 0, 0)), 1 + np.sin(x - beta * t), atol=1e-12
    )


def test_reference_convection_diffusion(pde, rng):
  x = rng.uniform(0, 2 * np.pi, 200)
  t = rng.uniform(0, 1, 200)
  beta, nu = 7.0, 2.0
  np.testing.assert_allclose(
    pde.reference(x, t, (beta, nu, 0)), 1 + np.exp(-nu * t) * np.sin(x - beta * t), atol=1e-12
  )


def test_reference_matches_official_test_points(pde):
  from tests.conftest import ref_path

  e = np.load(ref_path("expected_phase1.npz"))
  for b in (30, 35, 40):
    np.testing.assert_allclose(
      pde.reference(e[f"x_beta{b}"], e[f"t_beta{b}"], (b, 0, 0)), e[f"u_true_beta{b}"], atol=1e-10
    )
