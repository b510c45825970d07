"""The CDR family and Helmholtz: presets, initial conditions, reference solutions against closed
forms, Strang splitting's second-order convergence, and residuals of exact / reference solutions."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.pdes import reference
from lrpinn_jax.pdes.cdr import X_RANGE
from lrpinn_jax.pdes.helmholtz import helmholtz
from lrpinn_jax.pdes.registry import CDR_PRESETS, make_pde
from tests.conftest import residual_at


def _points(rng, n=200):
  return rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 1, n)


def _res(pde, u, x, t, mu):
  return np.asarray(residual_at(pde, u, (x, t), mu))


def test_gaussian_initial_conditions():
  for name, sigma in (("gauss_pi_4", math.pi / 4), ("gauss_pi_2", math.pi / 2)):
    pde = make_pde("reaction", name)
    np.testing.assert_allclose(
      pde.u0(np.array([math.pi, math.pi + sigma])), [1.0, math.exp(-0.5)], rtol=1e-14
    )
  with pytest.raises(UserError, match="unknown initial condition"):
    make_pde("cdr", "gauss")


def test_presets_fix_unused_coefficients():
  assert set(CDR_PRESETS) == {
    "convection",
    "diffusion",
    "reaction",
    "convection_diffusion",
    "reaction_diffusion",
    "cdr",
  }
  make_pde("reaction").check_mu([[0, 0, 5]])
  with pytest.raises(UserError, match="no beta term"):
    make_pde("reaction_diffusion").check_mu([[1, 3, 5]])
  make_pde("cdr").check_mu([[1, 3, 5]])
  with pytest.raises(UserError, match="unknown PDE"):
    make_pde("kdv")


def test_reaction_reference_is_the_logistic_closed_form(rng):
  pde = make_pde("reaction", "gauss_pi_2")
  x, t = _points(rng)
  rho = 5.0
  u0 = np.exp(-((x - np.pi) ** 2) / (2 * (np.pi / 2) ** 2))
  closed = u0 * np.exp(rho * t) / (u0 * np.exp(rho * t) + 1 - u0)
  np.testing.assert_allclose(pde.reference(x, t, (0, 0, rho)), closed, rtol=1e-13)
  # the closed form solves the PDE under the project's residual operator
  u = lambda a, b: (lambda g, e: g * e / (g * e + 1 - g))(
    jnp.exp(-((a - jnp.pi) ** 2) / (2 * (jnp.pi / 2) ** 2)), jnp.exp(rho * b)
  )
  assert np.max(np.abs(_res(pde, u, x, t, (0, 0, rho)))) < 1e-4
  assert np.max(np.abs(_res(pde, u, x, t, (0, 0, 0.8 * rho)))) > 0.1


def test_convection_reaction_along_characteristics(rng):
  pde = make_pde("cdr", "sin_1")
  x, t = _points(rng)
  beta, rho = 3.0, 2.0
  u = lambda a, b: (lambda g, e: g * e / (g * e + 1 - g))(
    1 + jnp.sin(a - beta * b), jnp.exp(rho * b)
  )
  ref = pde.reference(x, t, (beta, 0, rho))
  np.testing.assert_allclose(ref, np.asarray(jax.vmap(u)(x, t)), atol=1e-5)
  assert np.max(np.abs(_res(pde, u, x, t, (beta, 0, rho)))) < 1e-3


def test_fourier_convection_diffusion_solves_the_pde_for_a_gaussian(rng):
  # the Fourier solution written in jnp (same coefficients) has residual ~ 0 under the operator
  pde = make_pde("convection_diffusion", "gauss_pi_4")
  beta, nu = 2.0, 0.5
  n = 64
  grid = 2 * np.pi * np.arange(n) / n
  c = np.fft.fft(pde.u0(grid)) / n
  k = np.fft.fftfreq(n, 1.0 / n)
  c_j, k_j = jnp.asarray(c, jnp.complex64), jnp.asarray(k, jnp.float32)

  def u(a, b):
    return jnp.real(jnp.sum(c_j * jnp.exp(1j * k_j * (a - beta * b) - nu * k_j**2 * b)))

  x, t = _points(rng, 100)
  ref = reference.fourier_cd(pde.u0(grid), 0.0, 2 * np.pi, x, t, beta, nu)
  np.testing.assert_allclose(np.asarray(jax.vmap(u)(x, t)), ref, atol=1e-5)
  assert np.max(np.abs(_res(pde, u, x, t, (beta, nu, 0)))) < 2e-3


def test_strang_splitting_reduces_to_the_exact_flows(rng):
  pde = make_pde("cdr", "sin_1")  # smooth u0: trigonometric interpolation is exact
  x, t = _points(rng)
  u, _ = reference.strang_cdr(pde.u0, X_RANGE, x, t, 0.0, 0.0, 3.0, n_steps=7, max_halvings=0)
  np.testing.assert_allclose(u, reference.logistic(1 + np.sin(x), 3.0, t), atol=1e-12)
  u, _ = reference.strang_cdr(pde.u0, X_RANGE, x, t, 4.0, 0.7, 0.0, n_steps=7, max_halvings=0)
  np.testing.assert_allclose(u, 1 + np.exp(-0.7 * t) * np.sin(x - 4 * t), atol=1e-12)


def test_strang_splitting_is_second_order(rng):
  pde = make_pde("reaction_diffusion", "gauss_pi_2")
  x, t = _points(rng)
  args = (pde.u0, X_RANGE, x, t, 1.0, 3.0, 5.0)
  fine, _ = reference.strang_cdr(*args, n_grid=256, n_steps=3200, max_halvings=0)
  errs = [
    np.max(np.abs(reference.strang_cdr(*args, n_grid=256, n_steps=n, max_halvings=0)[0] - fine))
    for n in (25, 50, 100)
  ]
  ratios = [errs[0] / errs[1], errs[1] / errs[2]]
  assert all(3.5 < r < 4.5 for r in ratios), (errs, ratios)


def test_strang_reference_is_refined_to_tolerance_and_solves_the_pde(rng):
  pde = make_pde("reaction_diffusion", "gauss_pi_2")
  mu = (0.0, 3.0, 5.0)
  x, t = rng.uniform(0.5, 5.5, 40), rng.uniform(0.1, 0.9, 40)
  u, info = reference.strang_cdr(pde.u0, X_RANGE, x, t, *mu)
  assert info["change"] < reference.DEFAULT_TOL
  np.testing.assert_allclose(pde.reference(x, t, mu), u, atol=0)
  # central differences of the reference satisfy the PDE up to O(h^2) + the reference's accuracy
  h = 1e-3
  ref = lambda a, b: pde.reference(a, b, mu)
  u_t = (ref(x, t + h) - ref(x, t - h)) / (2 * h)
  u_xx = (ref(x + h, t) - 2 * u + ref(x - h, t)) / h**2
  res = u_t - mu[1] * u_xx - mu[2] * u * (1 - u)
  assert np.max(np.abs(res)) < 5e-3
  wrong = u_t - mu[1] * u_xx - 0.9 * mu[2] * u * (1 - u)
  assert np.max(np.abs(wrong)) > 0.05


def test_helmholtz_exact_solution_has_zero_residual(rng):
  pde = make_pde("helmholtz")
  a1, a2 = 2.5, 2.0
  x, y = rng.uniform(-1, 1, 100), rng.uniform(-1, 1, 100)
  u = lambda a, b: jnp.sin(a1 * jnp.pi * a) * jnp.sin(a2 * jnp.pi * b)
  res = _res(pde, u, x, y, (a1, a2))
  assert np.max(np.abs(res)) < 1e-5  # scaled by c = 1 + (a1 pi)^2 + (a2 pi)^2 ~ 102
  assert np.max(np.abs(_res(pde, u, x, y, (a1, 2.2)))) > 0.05
  # unscaled, the residual of a hand-picked point: u = x y -> u_xx + u_yy + k^2 u - q
  raw = helmholtz(scale_residual=False)
  mu = jnp.array([a1, a2])
  at = lambda p: residual_at(p, lambda a, b: a * b, (jnp.array([0.3]), jnp.array([0.2])), mu)[0]
  val = at(raw)
  q = (
    (1 - (a1 * np.pi) ** 2 - (a2 * np.pi) ** 2)
    * np.sin(a1 * np.pi * 0.3)
    * np.sin(a2 * np.pi * 0.2)
  )
  np.testing.assert_allclose(float(val), 0.06 - q, rtol=1e-5)
  c = 1 + (a1 * np.pi) ** 2 + (a2 * np.pi) ** 2
  scaled = at(pde)
  np.testing.assert_allclose(float(scaled), (0.06 - q) / c, rtol=1e-5)
  np.testing.assert_allclose(
    pde.reference(x, y, (a1, a2)), np.sin(a1 * np.pi * x) * np.sin(a2 * np.pi * y)
  )


def test_helmholtz_points_and_blocks():
  pde = make_pde("helmholtz")
  pts = train_batch(pde, DataConfig(n_f=10, n_b=5), 0)
  assert pts["bc"].shape == (20, 2)
  on_edge = np.any(np.abs(np.abs(pts["bc"]) - 1) < 1e-7, axis=1)
  assert on_edge.all()
  # n_b equispaced points per side, sides y = -1, y = 1, x = -1, x = 1
  np.testing.assert_allclose(pts["bc"][:5], np.stack([np.linspace(-1, 1, 5), -np.ones(5)], 1))
  np.testing.assert_allclose(pts["bc"][15:], np.stack([np.ones(5), np.linspace(-1, 1, 5)], 1))
  names = [name for name, _, _ in pde.blocks(pts)]
  assert names == ["f", "bc"]
  # Dirichlet misfit of the exact solution is zero
  from lrpinn_jax.fit.losses import block_vectors

  mu = jnp.array([2.3, 2.3])
  u = lambda a, b: jnp.sin(2.3 * jnp.pi * a) * jnp.sin(2.3 * jnp.pi * b)
  bc = block_vectors(pde, u, mu, jax.tree.map(jnp.asarray, pts))["bc"]
  assert np.max(np.abs(np.asarray(bc))) < 1e-6


def test_hard_initial_condition_holds_exactly():
  from lrpinn_jax.nn.model import ModelConfig, hyper_s, init_params, point_fn

  cfg = ModelConfig(hard_ic="ic")
  assert ModelConfig.from_dict(__import__("json").loads(cfg.to_json())) == cfg
  p = init_params(cfg, jax.random.key(0))
  pde = make_pde("reaction", "gauss_pi_4")
  mu = jnp.array([0.0, 0.0, 5.0])
  u = point_fn(cfg, p["net"], hyper_s(cfg, p["hyper"], mu), pde=pde, mu=mu)
  x = jnp.linspace(0, 2 * np.pi, 7)
  np.testing.assert_allclose(
    jax.jit(jax.vmap(u))(x, jnp.zeros(7)),
    np.exp(-((np.asarray(x) - np.pi) ** 2) / (2 * (np.pi / 4) ** 2)),
    atol=1e-6,
  )
  with pytest.raises(ValueError, match="needs pde= and mu="):
    point_fn(cfg, p["net"], hyper_s(cfg, p["hyper"], mu))
  pts = jax.tree.map(jnp.asarray, train_batch(pde, DataConfig(n_f=8, n_0=16, n_b=4), 0))
  from lrpinn_jax.fit.losses import block_vectors

  ic = jax.jit(lambda p: block_vectors(pde, u, jnp.array([0.0, 0.0, 5.0]), p)["ic"])(pts)
  assert float(jnp.max(jnp.abs(ic))) < 1e-6


def test_initial_slope_jump_by_hand():
  # Gaussian: u0'(0) - u0'(2 pi) = 2 (pi / sigma^2) exp(-pi^2 / (2 sigma^2))
  for name, sigma in (("gauss_pi_2", np.pi / 2), ("gauss_pi_4", np.pi / 4)):
    want = 2 * np.pi / sigma**2 * np.exp(-(np.pi**2) / (2 * sigma**2))
    np.testing.assert_allclose(make_pde("cdr", name).u0_slope_jump(), want, rtol=1e-4)
  assert abs(make_pde("cdr", "sin_1").u0_slope_jump()) < 1e-6


def test_periodic_derivative_block_only_with_diffusion():
  # u = (x - pi)^2 matches in value at 0 and 2 pi but not in slope: u_x = -2 pi vs 2 pi
  from lrpinn_jax.fit.lm import n_residuals
  from lrpinn_jax.fit.losses import block_vectors

  pde = make_pde("cdr")
  pts = jax.tree.map(jnp.asarray, train_batch(pde, DataConfig(n_f=8, n_0=8, n_b=5), 0))
  u = lambda x, t: (x - jnp.pi) ** 2 + 0.0 * t
  res = block_vectors(pde, u, jnp.array([1.0, 1.0, 0.0]), pts, need_xx=True)
  np.testing.assert_allclose(res["bc"], 0.0, atol=1e-5)
  np.testing.assert_allclose(res["bc_x"], -4 * np.pi, rtol=1e-5)
  assert "bc_x" not in block_vectors(pde, u, jnp.array([1.0, 0.0, 0.0]), pts, need_xx=False)
  # in a model that also sees diffusion, a mu without it keeps its kink: the block is zero there
  np.testing.assert_allclose(
    block_vectors(pde, u, jnp.array([1.0, 0.0, 2.0]), pts, need_xx=True)["bc_x"], 0.0
  )
  assert n_residuals(pde, pts, True) == n_residuals(pde, pts, False) + 5


def test_strang_reference_matches_an_explicit_finite_difference_solve():
  # independent check: explicit Euler + second differences on a 256-point periodic grid
  pde = make_pde("reaction_diffusion", "gauss_pi_4")
  n, nu, rho, t_end = 256, 3.0, 5.0, 0.5
  x = 2 * np.pi * np.arange(n) / n
  dx = x[1]
  steps = int(np.ceil(t_end / (0.2 * dx * dx / nu)))
  dt = t_end / steps
  u = pde.u0(x)
  for _ in range(steps):
    u = u + dt * (nu * (np.roll(u, -1) - 2 * u + np.roll(u, 1)) / dx**2 + rho * u * (1 - u))
  ref = pde.reference(x, np.full(n, t_end), (0.0, nu, rho))
  assert np.max(np.abs(ref - u)) < 1e-4
