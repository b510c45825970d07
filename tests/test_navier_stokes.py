"""Systems in the commands: Kovasznay flow's exact solution against its residual and conditions,
per-field errors with a mean-free pressure, test sets of several fields, and mu from data of
several fields (closed form for a model linear in mu)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.data import test_set as make_test_set  # not collected as a test
from lrpinn_jax.fit.losses import block_vectors
from lrpinn_jax.metrics import problem_errors
from lrpinn_jax.pdes.kovasznay import exact, lam
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.query import inverse
from tests.conftest import residual_at


@pytest.fixture(scope="module")
def kovasznay():
  return make_pde("kovasznay")


@pytest.mark.parametrize("re", [20.0, 47.5, 100.0])
def test_kovasznay_exact_solution_solves_the_system(kovasznay, rng, re):
  # float32 derivatives of O(1) functions (|lambda| <= 1.9, |u| <= 3): rounding ~1e-6
  x, y = rng.uniform(-0.5, 1.0, 64), rng.uniform(-0.5, 1.5, 64)
  u = lambda a, b: jnp.stack(exact(a, b, re, jnp))
  r = np.asarray(residual_at(kovasznay, u, (x, y), [re]))
  assert r.shape == (64, 3)
  np.testing.assert_allclose(r, 0.0, atol=2e-5)
  pts = jax.tree.map(jnp.asarray, kovasznay.sample_points(DataConfig(n_f=16, n_b=8), 0))
  misfit = block_vectors(kovasznay, u, jnp.array([re]), pts)
  assert misfit["bc"].shape == (32, 2) and misfit["bc_p"].shape == (8,)
  assert np.all(np.asarray(pts["bc_p"])[:, 0] == 1.0)  # the outflow side
  for name in ("bc", "bc_p"):
    np.testing.assert_allclose(misfit[name], 0.0, atol=1e-6)
  # another Re's solution is not a solution
  wrong = lambda a, b: jnp.stack(exact(a, b, re * 1.3, jnp))
  assert float(jnp.max(jnp.abs(residual_at(kovasznay, wrong, (x, y), [re])))) > 1e-2


def test_lambda_by_hand():
  # Re = 40: 20 - sqrt(400 + 4 pi^2)
  np.testing.assert_allclose(lam(40.0), 20.0 - np.sqrt(400.0 + 4 * np.pi**2), rtol=1e-15)


def test_per_field_errors_with_a_mean_free_pressure(kovasznay):
  ts = make_test_set(kovasznay, DataConfig(n_test=50), np.array([[30.0], [70.0]]), 0)
  assert len(ts.coords) == 2 and ts.u.shape == (2, 50, 3)
  true = ts.u[0]
  pred = true + np.array([0.0, 0.0, 7.0])  # pressure off by a constant only
  pred[:, 1] *= 1.1  # v off by 10%
  e = problem_errors(kovasznay, pred, true)
  assert set(e["fields"]) == {"u", "v", "p"} and "velocity" in e
  assert e["fields"]["u"]["rel_err"] == 0.0
  assert e["fields"]["p"]["rel_err"] < 1e-14
  np.testing.assert_allclose(e["fields"]["v"]["rel_err"], 0.1, rtol=1e-12)
  want = 0.1 * np.linalg.norm(true[:, 1]) / np.linalg.norm(true[:, :2])
  np.testing.assert_allclose(e["velocity"]["rel_err"], want, rtol=1e-12)


@pytest.mark.parametrize("fields", [(0, 1), (1,)])
def test_mu_from_several_fields_of_a_model_linear_in_mu(fields):
  """u_k = a_k + mu_0 b_k: least squares over the observed fields is exact,
  mu = sum_k (u_k - a_k).b_k / sum_k b_k.b_k, cov = sigma^2 / sum_k b_k.b_k."""
  rng = np.random.default_rng(3)
  x, y = rng.uniform(0, 1, 40), rng.uniform(0, 1, 40)
  a = np.stack([np.sin(3 * x), y * y], -1)
  b = np.stack([1.0 + x * y, np.cos(y)], -1)
  solver = lambda xs, ys, mu: (
    jnp.stack([jnp.sin(3 * xs), ys * ys], -1) + mu[0] * jnp.stack([1.0 + xs * ys, jnp.cos(ys)], -1)
  )
  solver.config = type("Config", (), {"n_out": 2})()
  idx = list(fields)
  u = (a + 1.7 * b + 0.01 * rng.standard_normal((40, 2)))[:, idx]
  obs = inverse.Observations((x, y), u[:, 0] if len(idx) == 1 else u, fields, 0.05)
  est = inverse.fit_mu(solver, obs, box=[(0, 5)])
  bb = np.sum(b[:, idx] ** 2)
  want = np.sum((u.reshape(40, -1) - a[:, idx]) * b[:, idx]) / bb
  np.testing.assert_allclose(est.mu_hat[0], want, rtol=1e-5)
  np.testing.assert_allclose(est.cov, [[0.05**2 / bb]], rtol=1e-4)


@pytest.mark.parametrize("nu", [0.01, 0.1])
def test_taylor_green_exact_solution_solves_the_system(rng, nu):
  from lrpinn_jax.pdes import taylor_green

  tg = make_pde("taylor_green")
  x, y, t = rng.uniform(0, 2 * np.pi, 64), rng.uniform(0, 2 * np.pi, 64), rng.uniform(0, 1, 64)
  u = lambda a, b, c: jnp.stack(taylor_green.exact(a, b, c, nu, jnp))
  r = np.asarray(residual_at(tg, u, (x, y, t), [nu]))
  assert r.shape == (64, 3)
  np.testing.assert_allclose(r, 0.0, atol=2e-5)
  pts = jax.tree.map(jnp.asarray, tg.sample_points(DataConfig(n_f=16, n_0=8, n_b=8), 0))
  misfit = block_vectors(tg, u, jnp.array([nu]), pts)
  assert misfit["ic"].shape == (8, 2) and misfit["per_x"].shape == (8, 3)
  np.testing.assert_allclose(np.asarray(pts["p_mean"])[:, 2], np.linspace(0, 1, 8), atol=1e-7)
  for name in ("ic", "per_x", "per_y", "p_mean"):
    np.testing.assert_allclose(misfit[name], 0.0, atol=1e-5)
  ts = make_test_set(tg, DataConfig(n_test=20), np.array([[nu]]), 0)
  assert len(ts.coords) == 3 and ts.u.shape == (1, 20, 3)
