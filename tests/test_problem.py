"""The public Problem API on tiny problems with exact solutions: a two-field system, a problem of
three coordinates, Burgers' Cole-Hopf reference; derivative helpers by hand; bad problems."""

import dataclasses
import math
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import lm, phase1, phase2
from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.losses import block_vectors
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.pdes.burgers import cole_hopf
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.problem import Dirichlet, Fields, Initial, Neumann, Periodic, Problem, absent
from lrpinn_jax.query import many_query
from lrpinn_jax.query.solver import Solver
from tests.conftest import FLOAT32_TWO_PROGRAMS

# u_x = a v, v_x = -a u on [0, 1] x [0, 1] (y is a passive coordinate): u = sin(a x), v = cos(a x)
SYSTEM = Problem(
  name="oscillator",
  coords={"x": (0.0, 1.0), "y": (0.0, 1.0)},
  fields=("u", "v"),
  params={"a": (1.0, 2.0)},
  residual=lambda u, z, mu: (u.d("u", "x") - mu["a"] * u("v"), u.d("v", "x") + mu["a"] * u("u")),
  conditions=(
    Dirichlet(("u", "v"), lambda z, mu: (0.0, 1.0), on="x=lo"),
    Neumann("u", lambda z, mu: mu["a"] * jnp.cos(mu["a"]), on="x=hi"),
  ),
  exact=lambda z, mu: (np.sin(mu["a"] * z["x"]), np.cos(mu["a"] * z["x"])),
)


def system_exact(mu):
  return lambda x, y: jnp.stack([jnp.sin(mu[0] * x), jnp.cos(mu[0] * x)]) + 0.0 * y


# u_t = k (u_xx + u_yy) on [0, 1]^2 x [0, 0.5]: u = exp(-2 k pi^2 t) sin(pi x) sin(pi y)
HEAT = Problem(
  name="heat2d",
  coords={"x": (0.0, 1.0), "y": (0.0, 1.0), "t": (0.0, 0.5)},
  time="t",
  fields="u",
  params={"k": (0.1, 0.5)},
  residual=lambda u, z, mu: u.d("u", "t") - mu["k"] * u.laplacian("u"),
  conditions=(
    Initial("u", lambda z, mu: jnp.sin(jnp.pi * z["x"]) * jnp.sin(jnp.pi * z["y"])),
    Dirichlet("u", lambda z, mu: 0.0),
  ),
  exact=lambda z, mu: (
    np.exp(-2 * mu["k"] * np.pi**2 * z["t"]) * np.sin(np.pi * z["x"]) * np.sin(np.pi * z["y"])
  ),
)


def heat_exact(mu):
  return lambda x, y, t: (
    jnp.exp(-2 * mu[0] * jnp.pi**2 * t) * jnp.sin(jnp.pi * x) * jnp.sin(jnp.pi * y)
  )


SMALL = DataConfig(n_f=40, n_0=20, n_b=10, n_test=20)


def test_fields_derivatives_by_hand():
  # f(x, y) = (x^2 y, sin x + y^3): every helper against its closed form at (0.3, -0.7)
  net = lambda z: jnp.stack([z[0] ** 2 * z[1], jnp.sin(z[0]) + z[1] ** 3])
  x, y = 0.3, -0.7
  f = Fields(net, jnp.array([x, y]), ("x", "y"), ("p", "q"), ("x", "y"))
  want = {
    ("p",): x * x * y,
    ("p", "x"): 2 * x * y,
    ("p", "y"): x * x,
    ("q", "x"): math.cos(x),
    ("q", "y"): 3 * y * y,
  }
  assert float(f("p")) == pytest.approx(want[("p",)], rel=1e-6)
  for (name, c), v in ((k, v) for k, v in want.items() if len(k) == 2):
    assert float(f.d(name, c)) == pytest.approx(v, rel=1e-5)
  assert float(f.d2("p", "x")) == pytest.approx(2 * y, rel=1e-5)
  assert float(f.d2("p", "x", "y")) == pytest.approx(2 * x, rel=1e-5)
  assert float(f.laplacian("q")) == pytest.approx(-math.sin(x) + 6 * y, rel=1e-5)
  assert float(f.directional("p", {"x": 2.0, "y": -1.0})) == pytest.approx(
    2 * 2 * x * y - x * x, rel=1e-5
  )
  with pytest.raises(UserError, match="unknown field 'w'"):
    f("w")
  with pytest.raises(UserError, match="unknown coordinate 'z'"):
    f.d("p", "z")


@pytest.mark.parametrize(
  "problem,exact,mu", [(SYSTEM, system_exact, [1.7]), (HEAT, heat_exact, [0.3])]
)
def test_exact_solutions_have_zero_residual_and_misfit(problem, exact, mu):
  pts = jax.tree.map(jnp.asarray, problem.sample_points(SMALL, 0))
  assert set(pts) == {"f"} | {c.name for c in problem.conditions}
  assert pts["f"].shape == (40, problem.d)
  mu = jnp.asarray(mu)
  res = jax.jit(lambda p: block_vectors(problem, exact(mu), mu, p))(pts)
  for name, r in res.items():  # float32 derivatives of O(1) functions: rounding ~1e-6
    np.testing.assert_allclose(np.asarray(r), 0.0, atol=2e-5, err_msg=name)
  # the reference and the network agree on the layout: one field -> the points' shape
  x = np.linspace(0.1, 0.9, 5)
  ref = problem.reference(*([x] * problem.d), np.asarray(mu))
  assert ref.shape == (5,) + ((2,) if problem.n_fields == 2 else ())


def test_a_wrong_solution_has_a_nonzero_residual_and_misfit():
  pts = jax.tree.map(jnp.asarray, SYSTEM.sample_points(SMALL, 0))
  mu = jnp.array([1.7])
  wrong = lambda x, y: jnp.stack([jnp.sin(1.5 * x), jnp.cos(1.7 * x)])
  res = block_vectors(SYSTEM, wrong, mu, pts)
  assert float(jnp.max(jnp.abs(res["f"]))) > 0.1 and float(jnp.max(jnp.abs(res["bc_n"]))) > 0.1


def test_periodic_conditions_match_values_or_derivatives():
  # DeepXDE's PeriodicBC: one derivative order per condition; ``when`` switches it per mu
  p = Problem(
    coords={"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)},
    fields="u",
    params={"b": (0.0, 1.0)},
    residual=lambda u, z, mu: u.d("u", "t"),
    conditions=(
      Periodic(coord="x", name="bc"),
      Periodic(coord="x", derivative_order=1, name="bc_x", when=lambda mu: mu["b"] > 0.5),
    ),
  )
  pts = jax.tree.map(jnp.asarray, p.sample_points(SMALL, 0))
  smooth = lambda x, t: jnp.sin(x) + t
  kink = lambda x, t: (x - jnp.pi) ** 2 + t  # equal values at 0 and 2 pi, slopes -2 pi and 2 pi
  for name in ("bc", "bc_x"):
    np.testing.assert_allclose(
      block_vectors(p, smooth, jnp.array([1.0]), pts)[name], 0.0, atol=1e-5
    )
  r = block_vectors(p, kink, jnp.array([1.0]), pts)
  assert r["bc"].shape == r["bc_x"].shape == (10,)
  np.testing.assert_allclose(r["bc"], 0.0, atol=1e-5)
  np.testing.assert_allclose(r["bc_x"], -4 * math.pi, rtol=1e-5)
  np.testing.assert_allclose(block_vectors(p, kink, jnp.array([0.2]), pts)["bc_x"], 0.0)  # off


def test_mean_condition_by_hand():
  # The mean over (x, y) of p = cos(2x) cos(y) + c(t) is c(t) (midpoint rule on 8 x 8 points,
  # exact for this degree), so Mean("p", over=("x", "y"), value=c) has zero misfit and a shifted
  # pressure misfits by the shift; the condition's points vary only in t where placed so.
  from lrpinn_jax.problem import Mean

  c = lambda t: 0.5 * t - 0.2
  p = Problem(
    coords={"x": (0.0, 2 * math.pi), "y": (0.0, 2 * math.pi), "t": (0.0, 1.0)},
    time="t",
    fields=("u", "p"),
    params={"k": (1.0, 2.0)},
    residual=lambda u, z, mu: u.d("p", "t"),
    conditions=(
      Mean("p", over=("x", "y"), value=lambda z, mu: c(z["t"]) * mu["k"], name="p_mean"),
    ),
  )
  pts = jax.tree.map(jnp.asarray, p.sample_points(SMALL, 0))
  mu = jnp.array([1.5])
  field = lambda x, y, t: jnp.stack([x, jnp.cos(2 * x) * jnp.cos(y) + 1.5 * c(t)])
  np.testing.assert_allclose(block_vectors(p, field, mu, pts)["p_mean"], 0.0, atol=1e-6)
  shifted = lambda x, y, t: field(x, y, t) + jnp.array([0.0, 0.25])
  np.testing.assert_allclose(block_vectors(p, shifted, mu, pts)["p_mean"], 0.25, rtol=1e-5)
  with pytest.raises(UserError, match="unknown coordinate 'z' in over"):
    Problem(
      coords={"x": (0.0, 1.0)},
      fields="u",
      params={"k": (1.0, 2.0)},
      residual=lambda u, z, mu: u("u"),
      conditions=(Mean("u", over="z"),),
    )


def test_drop_zero_leaves_out_a_term_and_its_condition():
  # u_t = nu u_xx with nu in drop_zero: where nu = 0 for every mu the residual gets the Python 0.0
  seen = []

  def residual(u, z, mu):
    seen.append(absent(mu["nu"]))
    return u.d("u", "t") - (0.0 if absent(mu["nu"]) else mu["nu"] * u.d2("u", "x"))

  p = Problem(
    coords={"x": (0.0, 1.0), "t": (0.0, 1.0)},
    fields="u",
    params={"nu": (0.0, 1.0)},
    residual=residual,
    drop_zero="nu",
    conditions=(Periodic(coord="x", derivative_order=1, when="nu", name="bc_x"),),
    mu_check=lambda mu: "nu must be >= 0" if np.any(mu["nu"] < 0) else None,
  )
  assert p.needs_uxx([[0.0], [0.5]]) and not p.needs_uxx([[0.0]])
  pts = jax.tree.map(jnp.asarray, p.sample_points(SMALL, 0))
  u = lambda x, t: x * x + t  # u_t = 1, u_xx = 2
  full = block_vectors(p, u, jnp.array([0.25]), pts)
  np.testing.assert_allclose(full["f"], 0.5, rtol=1e-6)
  assert set(block_vectors(p, u, jnp.array([0.0]), pts, need_xx=False)) == {"f"}
  assert seen[0] is False and seen[-1] is True
  with pytest.raises(UserError, match="nu must be >= 0"):
    p.check_mu([[-1.0]])


def test_grid_points_on_faces():
  # equispaced: a periodic coordinate leaves out its hi end; a 2D face gets round(sqrt(n))^2
  p = Problem(
    coords={"x": (0.0, 1.0), "t": (0.0, 2.0)},
    time="t",
    fields="u",
    params={"a": (0.0, 1.0)},
    residual=lambda u, z, mu: u.d("u", "t"),
    conditions=(Initial("u", lambda z, mu: 0.0, points="grid"), Periodic(coord="x", points="grid")),
  )
  pts = p.sample_points(DataConfig(n_f=4, n_0=4, n_b=5), 0)
  np.testing.assert_allclose(pts["ic"], [[0, 0], [0.25, 0], [0.5, 0], [0.75, 0]])
  np.testing.assert_allclose(pts["bc"], np.stack([np.zeros(5), np.linspace(0, 2, 5)], 1))
  face = HEAT.conditions[0]
  grid = dataclasses.replace(face, points="grid").sample(HEAT, 10, None)
  assert grid.shape == (9, 3) and np.all(grid[:, 2] == 0.0)


def tiny_model(problem):
  return ModelConfig(
    width=8,
    n_lowrank=2,
    rank=8,
    hyper_width=8,
    hyper_depth=2,
    n_in=problem.d,
    n_out=problem.n_fields,
    mu_dim=1,
    mu_shift=(0.0,),
    mu_scale=(1.0,),
  )


@pytest.fixture(scope="module", params=[SYSTEM, HEAT], ids=["two_fields", "three_coords"])
def trained(request):
  """(problem, ModelConfig, Phase-1 params, training mus, first loss, last metrics) after 100
  Adam steps on two mu."""
  problem = request.param
  cfg = tiny_model(problem)
  opt = optax.adam(1e-2)
  state = phase1.init_phase1(cfg, opt, jax.random.key(0))
  mus = problem.mu_box.mean(1, keepdims=True).T
  mus = np.concatenate([mus, mus * 1.1])
  batch = phase1.make_batch(mus, problem.sample_points(SMALL, 0))
  step = jax.jit(phase1.make_phase1_step(cfg, problem, opt, phase1.LossConfig(resample=True)))
  first = None
  for _ in range(100):
    state, m = step(state, batch)
    first = float(m["loss"]) if first is None else first
  return problem, cfg, state.params, mus, first, m


def test_phase1_trains_a_system_and_three_coordinates(trained):
  problem, cfg, params, mus, first, m = trained
  assert float(m["loss"]) < 0.5 * first
  assert set(m) == {"loss", "ortho", "s_l1", "f"} | {c.name for c in problem.conditions}
  solver = Solver(params, cfg)
  x = jnp.linspace(0.1, 0.4, 6).reshape(2, 3)
  u = solver(*([x] * problem.d), mus[0])
  assert u.shape == (2, 3) + ((2,) if problem.n_fields == 2 else ())
  with pytest.raises(ValueError, match=f"takes {problem.d} coordinate arrays"):
    solver(x, mus[0])


def test_lm_phase2_on_a_system_and_three_coordinates(trained):
  # LM's ||r||^2 is the Adam Phase-2 loss (each block's mean square over all its entries: a
  # two-field condition gives two rows per point), and LM lowers it; the batched many-query
  # program gives the same first loss for the same mu.
  problem, cfg, params, mus, _, _ = trained
  pts = jax.tree.map(jnp.asarray, problem.sample_points(SMALL, 1))
  lc = phase1.LossConfig()
  trainable, frozen, _ = phase2.split_params(cfg, params, mus[0], "full")
  batch = phase2.Phase2Batch(jnp.asarray(mus[0], jnp.float32), pts)
  want = float(phase2.phase2_loss(trainable, frozen, cfg, problem, lc, batch)[0])
  step = jax.jit(lm.make_lm_step(cfg, problem, lc))
  state = lm.init_lm(problem, trainable, frozen, pts)
  per_point = sum(
    c.sample(problem, 1, np.random.default_rng(0)).shape[0] for c in problem.conditions
  )  # one point per face of each condition
  assert state.r.shape[0] > pts["f"].shape[0] + per_point
  state, m = step(state, batch)
  np.testing.assert_allclose(float(m["loss"]), want, **FLOAT32_TWO_PROGRAMS)
  for _ in range(30):
    state, m = step(state, batch)
  assert float(m["loss"]) < 0.2 * want
  res = many_query.run_many(cfg, problem, params, mus, pts, steps=1, rank_mode="full")
  np.testing.assert_allclose(res.loss[0], want, **FLOAT32_TWO_PROGRAMS)


def test_many_query_study_of_any_problem(trained):
  # The many-query study takes any problem: per-mu errors (per field for a system) equal the
  # problem's errors of the zero-shot prediction and of the batched Phase 2 on the same points.
  from lrpinn_jax.fit.data import test_set
  from lrpinn_jax.metrics import problem_errors

  problem, cfg, params, mus, _, _ = trained
  name = "SYSTEM" if problem is SYSTEM else "HEAT"
  solver = Solver(params, cfg, (("pde", f"tests.test_problem:{name}"),))
  out = many_query.study(solver, mus, steps=2, chunk=0, data=SMALL, log=lambda *_: None)
  assert len(out["mus"]) == 2 and out["phase2_steps"] == 2
  test = test_set(problem, SMALL, mus, 0)
  zero = phase1.predict(cfg, params, mus, *test.coords)
  for i, row in enumerate(out["mus"]):
    want = problem_errors(problem, zero[i], test.u[i])
    np.testing.assert_allclose(row["mu"], mus[i], rtol=1e-6)
    np.testing.assert_allclose(row["zero_shot_rel_err"], want["rel_err"], rtol=1e-6)
    assert np.isfinite(row["phase2_rel_err"]) and len(row["ranks"]) == cfg.n_lowrank
    if problem.n_fields > 1:
      assert set(row["zero_shot_by_field"]) == {"u", "v"} == set(row["phase2_by_field"])
      np.testing.assert_allclose(
        row["zero_shot_by_field"]["v"], want["fields"]["v"]["rel_err"], rtol=1e-6
      )


def test_exact_initial_condition_comes_from_the_problem():
  # hard_ic holds the problem's Initial condition exactly for every mu, also where it depends on
  # mu (Burgers: u(x, 0) = -A sin(pi x)), through Phase 1, Phase 2 and the Solver; a system keeps
  # its other fields as the network gives them (Taylor-Green: u, v held, p free).
  burgers = make_pde("burgers")
  cfg = dataclasses.replace(
    tiny_model(burgers), mu_dim=2, mu_shift=(0.0, 0.0), mu_scale=(1.0, 1.0), hard_ic="ic"
  )
  params = phase1.init_phase1(cfg, optax.adam(1e-3), jax.random.key(0)).params
  x = jnp.linspace(-1.0, 1.0, 9)
  mus = np.array([[0.01, 0.5], [0.02, 1.0]], np.float32)
  u0 = phase1.predict(cfg, params, mus, x, jnp.zeros(9), pde=burgers)
  np.testing.assert_allclose(u0, -mus[:, 1:] * np.sin(np.pi * np.asarray(x)), atol=1e-6)
  solver = Solver(params, cfg, (("pde", "burgers"),))
  np.testing.assert_allclose(solver(x, jnp.zeros(9), mus[1]), u0[1], atol=1e-6)
  assert float(jnp.max(jnp.abs(solver(x, jnp.full(9, 0.5), mus[1]) - u0[1]))) > 1e-3
  pts = jax.tree.map(jnp.asarray, burgers.sample_points(SMALL, 0))
  trainable, frozen, _ = phase2.split_params(cfg, params, mus[0], "full")
  batch = phase2.Phase2Batch(jnp.asarray(mus[0]), pts)
  terms = phase2.phase2_loss(trainable, frozen, cfg, burgers, phase1.LossConfig(), batch)[1]
  assert float(terms["ic"]) < 1e-12
  np.testing.assert_allclose(
    phase2.predict(cfg, trainable, frozen, x, jnp.zeros(9), pde=burgers, mu=mus[0]),
    u0[0],
    atol=1e-6,
  )
  tg = make_pde("taylor_green")
  cfg = dataclasses.replace(tiny_model(tg), hard_ic="ic")
  params = phase1.init_phase1(cfg, optax.adam(1e-3), jax.random.key(0)).params
  y = jnp.linspace(0.0, 6.0, 9)
  held = phase1.predict(cfg, params, np.array([[0.05]]), x, y, jnp.zeros(9), pde=tg)[0]
  free = phase1.predict(
    dataclasses.replace(cfg, hard_ic=""), params, np.array([[0.05]]), x, y, jnp.zeros(9)
  )[0]
  want = np.stack([-np.cos(x) * np.sin(y), np.sin(x) * np.cos(y)], -1)
  np.testing.assert_allclose(held[:, :2], want, atol=1e-6)
  np.testing.assert_array_equal(held[:, 2], free[:, 2])


def test_burgers_cole_hopf_solves_the_pde():
  """Central differences of the reference (h = 1e-3) leave a residual of O(h^2) times the third
  derivatives; the boundary values are 0 and t = 0 gives the initial condition."""
  nu, a, h = 0.05 / math.pi, 0.8, 1e-3
  x = np.array([-0.6, -0.2, 0.1, 0.45, 0.8])
  t = np.array([0.2, 0.5, 0.7, 0.9, 1.0]) - 0.05
  u = lambda xx, tt: cole_hopf(xx, tt, nu, a)
  u_t = (u(x, t + h) - u(x, t - h)) / (2 * h)
  u_x = (u(x + h, t) - u(x - h, t)) / (2 * h)
  u_xx = (u(x + h, t) - 2 * u(x, t) + u(x - h, t)) / h**2
  assert np.max(np.abs(u_t + u(x, t) * u_x - nu * u_xx)) < 1e-3
  np.testing.assert_allclose(
    cole_hopf(np.array([-1.0, 1.0]), np.array([0.4, 0.7]), nu, a), 0.0, atol=1e-12
  )
  np.testing.assert_allclose(cole_hopf(x, np.zeros(5), nu, a), -a * np.sin(np.pi * x), atol=1e-15)
  burgers = make_pde("burgers")
  assert burgers.source == "lrpinn_jax.pdes.burgers:problem" and burgers.mu_names == ("nu", "A")


@pytest.mark.parametrize(
  "make,message",
  [
    (
      lambda: Problem(
        coords={"x": (1.0, 0.0)}, fields="u", params={"a": (0, 1)}, residual=lambda u, z, mu: 0.0
      ),
      "'x' needs finite lo < hi",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)},
        fields="u",
        params={"a": (0, 1)},
        residual=lambda u, z, mu: 0.0,
        conditions=(Dirichlet("w", lambda z, mu: 0.0),),
      ),
      "unknown field 'w'",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)},
        fields="u",
        params={"a": (0, 1)},
        residual=lambda u, z, mu: 0.0,
        conditions=(Periodic(coord="y"),),
      ),
      "unknown coordinate 'y'",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)},
        fields="u",
        params={"a": (0, 1)},
        residual=lambda u, z, mu: 0.0,
        conditions=(Initial("u", lambda z, mu: 0.0),),
      ),
      "needs the problem's time",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)},
        fields="u",
        params={"a": (0, 1)},
        residual=lambda u, z, mu: u("u") / 0.0,
      ).check(),
      "not finite",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)},
        fields="u",
        params={"a": (0, 1)},
        residual=lambda u, z, mu: (u("u"), u("u")),
        equations=1,
      ).check(),
      "expected one value per equation (1)",
    ),
    (
      lambda: Problem(
        coords={"x": (0.0, 1.0)}, fields="u", params={"a": (0, 1)}, residual=lambda u, z, mu: u("p")
      ).check(),
      "unknown field 'p'",
    ),
  ],
)
def test_bad_problems_fail_early_in_one_line(make, message):
  with pytest.raises(UserError, match=re.escape(message)) as e:
    make()
  assert "\n" not in str(e.value)


def test_cole_hopf_matches_the_published_shock_data():
  """Raissi et al.'s burgers_shock.mat (nu = 0.01/pi, A = 1; a 32 x 10 subset in tests/data),
  computed independently by Hermite quadrature: the project's reference agrees to 1e-9 (measured
  4.2e-11 over the whole 256 x 100 file), the shock at x = 0 included."""
  d = np.load(os.path.join(os.path.dirname(__file__), "data", "burgers_shock_subset.npz"))
  xx, tt = np.meshgrid(d["x"], d["t"], indexing="ij")
  np.testing.assert_allclose(cole_hopf(xx, tt, 0.01 / math.pi, 1.0), d["u"], rtol=0, atol=1e-9)


def test_the_readme_problem_file_runs_and_is_the_built_in():
  """The complete file shown under "Your own PDE" in README.md defines the built-in problem."""
  readme = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")).read()
  section = readme[readme.index("## Your own PDE") :]
  code = section[section.index("```python") + len("```python") : section.index("```\n")]
  scope = {}
  exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (the project's own README)
  mine, builtin = scope["problem"], make_pde("burgers")
  for attr in ("coords", "fields", "params", "time", "name"):
    assert getattr(mine, attr) == getattr(builtin, attr), attr
  pts = jax.tree.map(jnp.asarray, builtin.sample_points(SMALL, 0))
  u = lambda x, t: jnp.tanh(x - 0.3 * t)
  mu = jnp.array([0.02, 0.8])
  for name in ("f", "ic", "bc"):  # the same residual and conditions, point by point
    np.testing.assert_array_equal(
      block_vectors(mine, u, mu, pts)[name], block_vectors(builtin, u, mu, pts)[name]
    )
