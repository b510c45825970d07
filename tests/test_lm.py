"""Levenberg-Marquardt: exact least-squares solutions, the per-point Jacobian, official beta=40."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from lrpinn_jax.fit import lm
from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.fit.phase1 import LossConfig, make_batch
from lrpinn_jax.fit.phase2 import Phase2Batch, split_params
from lrpinn_jax.pdes.registry import make_pde
from tests.conftest import FLOAT32_TWO_PROGRAMS, TINY_DATA


def _solve(residual, theta0, steps, geodesic=False, project=None):
  """The library's LM loop (lm.minimize) on a generic residual, Jacobian by jacfwd."""
  rj = lambda th: (residual(th), jax.jacfwd(residual)(th))
  return jax.jit(lambda th: lm.minimize(rj, th, steps, project, lm.LMConfig(geodesic=geodesic)))(
    theta0
  )


def test_linear_least_squares_reaches_lstsq_solution(rng):
  a = jnp.asarray(rng.normal(size=(30, 5)), jnp.float32)
  b = jnp.asarray(rng.normal(size=30), jnp.float32)
  th, loss = _solve(lambda th: a @ th - b, jnp.zeros(5), 10)
  expected, *_ = np.linalg.lstsq(np.asarray(a, np.float64), np.asarray(b, np.float64), rcond=None)
  np.testing.assert_allclose(th, expected, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(
    loss, np.sum((np.asarray(a) @ expected - np.asarray(b)) ** 2), rtol=1e-4
  )


def test_projected_steps_stay_in_the_box():
  # r = theta - 3 with theta clipped to [0, 1] after every step: the box's end, not 3.
  th, loss = _solve(
    lambda th: th - 3.0, jnp.array([0.2]), 20, project=lambda th: jnp.clip(th, 0.0, 1.0)
  )
  np.testing.assert_allclose(th, [1.0], atol=1e-6)
  np.testing.assert_allclose(loss, 4.0, rtol=1e-6)


@pytest.mark.parametrize("geodesic", [False, True])
def test_nonlinear_rosenbrock_reaches_minimum(geodesic):
  """r = (1 - x, 10 (y - x^2)): minimum (1, 1) with zero residual."""
  res = lambda th: jnp.stack([1.0 - th[0], 10.0 * (th[1] - th[0] ** 2)])
  th, loss = _solve(res, jnp.array([-1.2, 1.0]), 100, geodesic)
  np.testing.assert_allclose(th, [1.0, 1.0], atol=1e-4)
  assert float(loss) < 1e-8


def test_per_point_jacobian_equals_jacfwd(official_phase1):
  cfg = official_phase1.config
  pde = make_pde("convection")
  mu = jnp.array([40.0, 0.0, 0.0])
  tr, fr, _ = split_params(cfg, official_phase1.params, mu, "adaptive")
  batch = Phase2Batch(mu, make_batch(mu[None], train_batch(pde, TINY_DATA, 0)).points)
  lc = LossConfig(need_xx=False)
  # both sides jitted (op-by-op dispatch would compile every primitive on its own); they are two
  # different programs, so r is compared with FLOAT32_TWO_PROGRAMS (conftest says why)
  r, jac = jax.jit(lambda tr: lm.jacobian(cfg, pde, lc, tr, fr, batch))(tr)
  flat, unravel = ravel_pytree(tr)
  res = lm.residual_fn(cfg, pde, lc, fr, batch)
  np.testing.assert_allclose(r, jax.jit(res)(tr), **FLOAT32_TWO_PROGRAMS)
  np.testing.assert_allclose(
    jac, jax.jit(jax.jacfwd(lambda th: res(unravel(th))))(flat), atol=2e-4, rtol=1e-3
  )
  assert jac.shape == (TINY_DATA.n_f + TINY_DATA.n_0 + TINY_DATA.n_b, 294)


@pytest.mark.parametrize("optimizer", ["lm", "lm_geodesic", "lm_geodesic_pcg"])
def test_lm_phase2_lowers_official_beta40_error(official_phase1, optimizer):
  """A handful of LM steps (plain or with geodesic acceleration) from the official Phase-1 model at
  beta = 40 (zero-shot rel err 0.30) beats the paper's 10,000-epoch Adam result (0.0722) on the
  official test points."""
  from lrpinn_jax.fit import train
  from lrpinn_jax.fit.data import DataConfig
  from tests.conftest import ref_path

  e = np.load(ref_path("expected_phase1.npz"))
  pde = make_pde("convection")
  tr, fr, info = train.fit_phase2(
    official_phase1.config,
    pde,
    official_phase1.params,
    [40.0, 0, 0],
    train_batch(pde, DataConfig(), 0),
    steps=25,
    optimizer=optimizer,
    loss_cfg=LossConfig(need_xx=False),
    eval_every=25,
    test=(e["x_beta40"], e["t_beta40"], e["u_true_beta40"]),
    log=lambda *_: None,
  )
  assert info["trajectory"][0]["rel_err"] > 0.29
  assert info["trajectory"][-1]["rel_err"] < 0.0722


def test_geodesic_acceleration_uses_exact_second_derivative():
  """For a quadratic residual the finite difference r_vv is exact: a = propose(d^2 r[v, v], J)."""
  c = jnp.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
  res = lambda th: c @ th**2 + jnp.array([1.0, -2.0, 0.5]) * th[0] * th[1] - 1.0
  th, lam = jnp.array([0.7, -0.4]), jnp.float32(1e-2)
  r, jac = res(th), jax.jacfwd(res)(th)
  jtj, jtr = lm.normal(r, jac)
  v = lm.propose(jtj, jtr, lam)
  cfg = lm.LMConfig(geodesic=True)
  solve = lambda g: lm.solve_damped(lm.damped(jtj, lam, cfg), g, None, cfg)
  delta, reject = lm.accelerate(
    r, jac @ v, res(th + cfg.geodesic_h * v), lambda w: jac.T @ w, solve, v, cfg
  )
  r_vv = jax.jvp(lambda t: jax.jvp(res, (t,), (v,))[1], (th,), (v,))[1]  # d^2 r [v, v]
  np.testing.assert_allclose(
    delta, v + 0.5 * lm.propose(jtj, jac.T @ r_vv, lam), rtol=2e-3, atol=1e-5
  )
  a = 2 * (delta - v)
  assert bool(reject) == bool(2 * jnp.linalg.norm(a) > cfg.geodesic_alpha * jnp.linalg.norm(v))


def _ill_conditioned(rng, m=80, n=24, low=-3.0):
  """J (m, n) = U diag(sigma) V^T with sigma from 1 to 10^low (J^T J's condition 10^(-2 low)),
  columns at unit norm, and a residual r (m,), both float64."""
  u = np.linalg.qr(rng.normal(size=(m, n)))[0]
  v = np.linalg.qr(rng.normal(size=(n, n)))[0]
  jac = u @ np.diag(np.logspace(0.0, low, n)) @ v.T
  jac /= np.linalg.norm(jac, axis=0)
  return jac, rng.normal(size=m)


def test_refined_solve_recovers_the_float64_step(rng):
  """J^T J of condition 1e6 at damping 1e-9 in the column-scaled variables: float32 J^T J cannot
  hold it, and a Cholesky solve damped by refine_floor = 1e-5 misses the exact step (float64,
  closed form) by far; 10 conjugate-gradient iterations on J itself bring the float32 step
  within 2e-3 of it (float32 J resolves sigma down to 1e-3 to about 1e-4 relative)."""
  jac, r = _ill_conditioned(rng)
  lam = 1e-9
  exact = -np.linalg.solve(jac.T @ jac + lam * np.eye(jac.shape[1]), jac.T @ r)
  j32, r32 = jnp.asarray(jac, jnp.float32), jnp.asarray(r, jnp.float32)
  jtj, jtr = lm.normal(r32, j32)
  cfg = lm.LMConfig(refine=10)
  rel = lambda d: np.linalg.norm(np.asarray(d, np.float64) - exact) / np.linalg.norm(exact)
  plain = lm.solve_damped(lm.damped(jtj, jnp.float32(lam), cfg), jtr, None, cfg)
  refined = lm.solve_damped(lm.damped(jtj, jnp.float32(lam), cfg), jtr, j32, cfg)
  assert rel(plain) > 0.3
  assert rel(refined) < 2e-3


def test_refined_solve_without_refinement_is_the_plain_step(rng):
  """refine = 0 (the default): solve_damped is the Cholesky step of propose, bit for bit (one
  program), and ignores J."""
  jac, r = (jnp.asarray(a, jnp.float32) for a in _ill_conditioned(rng, low=-1.0))
  jtj, jtr = lm.normal(r, jac)
  a = lm.propose(jtj, jtr, 1e-3)
  b = lm.solve_damped(lm.damped(jtj, 1e-3), jtr, jac)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_too_curved_step_falls_back_to_the_plain_step():
  """r(theta) = (theta - 1 + 50 (theta - 1)^2, theta / 1000): from theta = 0.9 the acceleration
  a is as long as v (2 |a| / |v| about 1 > alpha = 0.75: too curved). Transtrum & Sethna's rule
  rejects the step (theta stays); with geodesic_fallback the plain step v is taken and judged as
  usual (here it lowers the loss)."""
  res = lambda th: jnp.stack([th[0] - 1.0 + 50.0 * (th[0] - 1.0) ** 2, 1e-3 * th[0]])
  rj = lambda th: (res(th), jax.jacfwd(res)(th))
  th0 = jnp.array([0.9])
  r, jac = rj(th0)
  jtj, jtr = lm.normal(r, jac)
  core = lm.Core(th0, r, jtj, jtr, jac, jnp.float32(1e-3), jnp.float32(2.0), jnp.sum(r**2))
  base = dict(geodesic=True, geodesic_h=0.5)
  v = lm.propose(jtj, jtr, 1e-3)
  rejected, ok = lm.update(core, rj, lm.LMConfig(**base), r_only=res)
  assert not bool(ok)
  np.testing.assert_array_equal(np.asarray(rejected.theta), np.asarray(th0))
  taken, ok = lm.update(core, rj, lm.LMConfig(**base, geodesic_fallback=True), r_only=res)
  assert bool(ok)
  np.testing.assert_array_equal(np.asarray(taken.theta), np.asarray(th0 + v))
  assert float(taken.loss) < float(jnp.sum(r**2))
