"""Inverse problem: known answers (noise-free data from the same Solver; a model linear in mu)."""
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax import inverse
from lrpinn_jax.errors import UserError
from lrpinn_jax.pde import make_pde


def test_recovers_beta_of_noise_free_data_from_the_same_solver(official_phase1):
  rng = np.random.default_rng(0)
  x, t = rng.uniform(0, 2 * np.pi, 100), rng.uniform(0, 1, 100)
  u = np.asarray(official_phase1(x, t, np.array([36.3, 0.0, 0.0])))
  est = inverse.fit_mu(official_phase1, x, t, u, box=[(30, 40), (0, 0), (0, 0)])
  assert est.free == (0,)
  assert abs(est.mu_hat[0] - 36.3) < 1e-3
  assert est.mu_hat[1] == 0 and est.mu_hat[2] == 0


def test_laplace_covariance_of_a_model_linear_in_mu_is_the_closed_form():
  """u = a(x, t) + mu_0 b(x, t): least squares is exact, cov = sigma^2 / (b . b) (the data noise
  0.02 lies below the stated sigma, so the stated one is used)."""
  rng = np.random.default_rng(1)
  x, t = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
  a, b = np.sin(3 * x) + t, 1.0 + x * t
  solver = lambda xs, ts, mu: jnp.sin(3 * xs) + ts + mu[0] * (1.0 + xs * ts)
  sigma = 0.05
  u = a + 2.5 * b + 0.02 * rng.standard_normal(50)
  est = inverse.fit_mu(solver, x, t, u, box=[(0, 5), (0, 0), (0, 0)], sigma=sigma)
  want = np.sum((u - a) * b) / np.sum(b * b)
  np.testing.assert_allclose(est.mu_hat[0], want, rtol=1e-5)
  np.testing.assert_allclose(est.cov, [[sigma ** 2 / np.sum(b * b)]], rtol=1e-4)
  np.testing.assert_allclose(est.ci95[0], want + np.array([-1, 1]) * 1.959964 * est.std[0],
                             rtol=1e-6)


@pytest.mark.parametrize("x, t, u, message", [
    ([0.1, 7.0], [0.5, 0.5], [1.0, 1.0], "outside the domain"),
    ([0.1, np.nan], [0.5, 0.5], [1.0, 1.0], "NaN"),
    ([0.1, 0.2], [0.5], [1.0, 1.0], "one length"),
])
def test_bad_observations_are_one_line_errors(x, t, u, message):
  with pytest.raises(UserError, match=message):
    inverse.check_observations(make_pde("convection"), x, t, u, 3)


def test_mu_dimension_mismatch_is_an_error():
  with pytest.raises(UserError, match="mu coordinates"):
    inverse.check_observations(make_pde("convection"), [0.1], [0.5], [1.0], 2)


def test_design_finds_the_beta_of_a_profile_from_the_same_solver(official_phase1):
  from lrpinn_jax import design
  x = np.linspace(0, 2 * np.pi, 128, endpoint=False)
  target = np.asarray(official_phase1(x, np.full_like(x, 0.5), np.array([36.3, 0.0, 0.0])))
  res = design.fit_profile(official_phase1, x, 0.5, target, box=[(30, 40), (0, 0), (0, 0)])
  assert abs(res.mu_hat[0] - 36.3) < 1e-2
