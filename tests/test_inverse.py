"""Inverse problem: known answers (noise-free data from the same Solver; a model linear in mu)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import lm
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.query import inverse
from tests.conftest import assert_one_line_error, cli_cases


def test_recovers_beta_of_noise_free_data_from_the_same_solver(official_phase1):
  rng = np.random.default_rng(0)
  x, t = rng.uniform(0, 2 * np.pi, 100), rng.uniform(0, 1, 100)
  u = np.asarray(official_phase1(x, t, np.array([36.3, 0.0, 0.0])))
  est = inverse.fit_mu(
    official_phase1, inverse.Observations((x, t), u), box=[(30, 40), (0, 0), (0, 0)]
  )
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
  est = inverse.fit_mu(
    solver, inverse.Observations((x, t), u), box=[(0, 5), (0, 0), (0, 0)], sigma=sigma
  )
  want = np.sum((u - a) * b) / np.sum(b * b)
  np.testing.assert_allclose(est.mu_hat[0], want, rtol=1e-5)
  np.testing.assert_allclose(est.cov, [[sigma**2 / np.sum(b * b)]], rtol=1e-4)
  np.testing.assert_allclose(
    est.ci95[0], want + np.array([-1, 1]) * 1.959964 * est.std[0], rtol=1e-6
  )


@pytest.mark.parametrize(
  "x, t, u, message",
  [
    ([0.1, 7.0], [0.5, 0.5], [1.0, 1.0], "outside the domain"),
    ([0.1, np.nan], [0.5, 0.5], [1.0, 1.0], "NaN"),
    ([0.1, 0.2], [0.5], [1.0, 1.0], "one length"),
  ],
)
def test_bad_observations_are_one_line_errors(x, t, u, message):
  with pytest.raises(UserError, match=message):
    inverse.check_observations(make_pde("convection"), inverse.Observations((x, t), u), 3)


def test_mu_dimension_mismatch_is_an_error():
  with pytest.raises(UserError, match="mu coordinates"):
    inverse.check_observations(
      make_pde("convection"), inverse.Observations(([0.1], [0.5]), [1.0]), 2
    )


def test_design_finds_the_beta_of_a_profile_from_the_same_solver(official_phase1):
  from lrpinn_jax.query import design

  x = np.linspace(0, 2 * np.pi, 128, endpoint=False)
  target = np.asarray(official_phase1(x, np.full_like(x, 0.5), np.array([36.3, 0.0, 0.0])))
  res = design.fit_profile(official_phase1, x, 0.5, target, box=[(30, 40), (0, 0), (0, 0)])
  assert abs(res.mu_hat[0] - 36.3) < 1e-2


def test_joint_refinement_removes_the_surrogate_error_on_exact_data(official_phase1):
  """Noise-free data of the exact solution 1 + sin(x - beta t) at beta = 35.2: the mu-only
  estimate carries the zero-shot model's own error; refining mu with the Phase-2 parameters
  against the PDE and the data lands much closer, and its interval covers the truth."""
  pde = make_pde("convection")
  obs = inverse.synthetic(pde, [35.2, 0.0, 0.0], 100, 0.0, 0)
  est = inverse.fit_mu(official_phase1, obs, box=[(30, 40), (0, 0), (0, 0)])
  joint = inverse.refine(official_phase1, pde, obs, est, steps=40)
  assert joint.free == (0,) and joint.mu_hat[1] == 0 and joint.mu_hat[2] == 0
  assert abs(joint.mu_hat[0] - 35.2) < 0.5 * abs(est.mu_hat[0] - 35.2)
  assert abs(joint.mu_hat[0] - 35.2) < 5e-3
  assert joint.ci95[0, 0] <= 35.2 <= joint.ci95[0, 1]
  assert joint.data_rel_residual < est.data_rel_residual


@pytest.mark.commands
def test_inverse_command_writes_both_estimates(tmp_path):
  import json

  (one,) = cli_cases(
    "experiments.inverse",
    [["--checkpoint=lrpinn_jax/official/phase1.npz", "--synthetic=35.2,0,0", "--n_obs=50",
      "--steps=5", "--refine_steps=3", f"--out={tmp_path / 'one'}"]],
    tmp_path,
  )  # fmt: skip
  assert one["code"] == 0, one["stderr"]
  out = json.load(open(tmp_path / "one" / "inverse.json"))
  assert out["mu_true"] == [35.2, 0.0, 0.0] and out["free"] == [0]
  assert out["refined"]["free"] == [0] and "pde_residual_rms" in out["refined"]
  # the command's answer (the refinement) at the top, both estimates under their own keys
  assert out["answer"] == "refined" and out["mu_hat"] == out["refined"]["mu_hat"]
  assert out["ci95"] == out["refined"]["ci95"] and "pde_residual_rms" not in out["mu_only"]


def test_inverse_command_refuses_observations_outside_the_domain(tmp_path):
  bad = tmp_path / "obs.npz"
  np.savez(bad, x=np.array([0.1, 9.0]), t=np.array([0.5, 0.5]), u=np.array([1.0, 1.0]))
  (refused,) = cli_cases(
    "experiments.inverse",
    [["--checkpoint=lrpinn_jax/official/phase1.npz", f"--observations={bad}",
      f"--out={tmp_path / 'bad'}"]],
    tmp_path,
  )  # fmt: skip
  assert_one_line_error(refused, "outside the domain")
  assert not (tmp_path / "bad").exists()


def test_sandwich_covariance_is_the_sampling_covariance_of_a_linear_joint_fit():
  """A linear joint fit: unknowns theta (4: three 'network' numbers and mu last), one PDE block
  of 30 rows and 20 data rows, least squares on [r_pde / sqrt(30); sqrt(w / n) r_data]. With the
  PDE rows perturbed by noise of standard deviation 0.3 and the data by 0.1, the variance of the
  estimated mu over 40,000 draws equals the sandwich given those block variances (the PDE
  block's mean square 0.09, sigma 0.1), up to the Monte-Carlo error of a variance from 40,000
  draws (sqrt(2 / 40000) = 0.7%; 3% allowed); p_eff is the trace of the data rows' hat matrix."""
  rng = np.random.default_rng(0)
  m, n, w = 30, 20, 1.0
  a_pde, a_dat = rng.normal(size=(m, 4)), rng.normal(size=(n, 4))
  jac = np.concatenate([a_pde / np.sqrt(m), np.sqrt(w / n) * a_dat])
  inv = np.linalg.inv(jac.T @ jac)
  draws = 40000
  rhs = np.concatenate(
    [
      0.3 * rng.normal(size=(draws, m)) / np.sqrt(m),
      np.sqrt(w / n) * 0.1 * rng.normal(size=(draws, n)),
    ],
    1,
  )
  mu = (rhs @ jac @ inv)[:, -1]  # least squares of every draw (around theta = 0)
  r_pde = np.full(m, 0.3 / np.sqrt(m))  # a block residual of mean square 0.09
  cov, s, p_eff = inverse.sandwich(jac, [r_pde], np.zeros(n), 1, w, 0.1)
  assert s == 0.1  # the stated noise: the data residual (0 here) is below it
  np.testing.assert_allclose(cov[0, 0], np.var(mu), rtol=0.03)
  hat = (w / n) * a_dat @ inv @ a_dat.T
  np.testing.assert_allclose(p_eff, np.trace(hat), rtol=1e-12)
  # no stated noise: sigma from the data residual with n - p_eff degrees of freedom
  resid = 0.1 * rng.normal(size=n)
  _, s, _ = inverse.sandwich(jac, [r_pde], resid, 1, w, None)
  np.testing.assert_allclose(s, np.sqrt(resid @ resid / (n - p_eff)), rtol=1e-12)


def test_damped_bread_is_the_response_of_the_damped_lm_step():
  """With the LM's last damping lam the bread is the damped step's response in lm.propose's
  column-scaled variables. Closed form: J^T J = diag(4, 1) has column norms (2, 1), scaled
  matrix I, so the bread is diag(1/4, 1) / (1 + lam); lam -> 0 gives the inverse. And on a
  linear fit it is what one damped step from the truth does with every draw of the residuals:
  delta = lm.propose(J^T J, J^T e, lam) (float64, so only rounding separates them: 1e-9)."""
  np.testing.assert_allclose(
    inverse.bread(np.diag([4.0, 1.0]), 0.5), np.diag([0.25, 1.0]) / 1.5, rtol=1e-14
  )
  np.testing.assert_allclose(inverse.bread(np.diag([4.0, 1.0]), 0.0), np.diag([0.25, 1.0]))
  rng = np.random.default_rng(1)
  jac = rng.normal(size=(50, 4)) * np.array([1.0, 10.0, 0.1, 3.0])  # columns of unlike scales
  e = rng.normal(size=(7, 50))
  lam = 1e-2
  with jax.enable_x64(True):
    steps = jax.vmap(lambda ee: lm.propose(jnp.asarray(jac.T @ jac), jnp.asarray(jac.T @ ee), lam))(
      jnp.asarray(e)
    )
  np.testing.assert_allclose(
    np.asarray(steps), -(inverse.bread(jac.T @ jac, lam) @ jac.T @ e.T).T, rtol=1e-9, atol=1e-12
  )
