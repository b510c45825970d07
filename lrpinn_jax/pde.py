"""PDE definitions. A PDE is one small frozen dataclass; the trainer only calls these members:

  name, n_mu, mu_names, coords   what mu and the two network inputs are
  domain                          ((lo, hi), (lo, hi)) of the two inputs
  sample_points(data_cfg, seed)   training points (a NamedTuple of numpy arrays)
  resample(points, key)           fresh interior points (jax; for --resample)
  blocks(points, mode, need_xx)   the residual blocks: (name, point_fn(u_fn, mu, *cols), cols)
  needs_uxx(mus)                  whether second derivatives are needed for these mu
  reference(x, t, mu)             exact / reference solution at points for one mu, float64
  check_mu(mus)                   UserError for mu outside what the PDE accepts

Adding a PDE means writing one such class and registering it in PRESETS (BUILD_NOTES.md).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax import derivatives, reference
from lrpinn_jax.errors import UserError
from lrpinn_jax.precision import np_real

# Initial conditions of the CDR family: name -> Gaussian sigma (None: 1 + sin x).
INIT_CONDS = {"sin_1": None, "gauss_pi_4": math.pi / 4, "gauss_pi_2": math.pi / 2}



def initial_value(name: str, x, xp=np):
  """The CDR initial condition ``name`` at x (any shape); xp is numpy or jax.numpy."""
  sigma = INIT_CONDS[name]
  if sigma is None:
    return 1.0 + xp.sin(x)
  return xp.exp(-(x - math.pi) ** 2 / (2.0 * sigma ** 2))


# CDR presets: which of (beta, nu, rho) each one uses; the others are fixed to 0.
CDR_PRESETS = {
    "convection": (True, False, False),
    "diffusion": (False, True, False),
    "reaction": (False, False, True),
    "convection_diffusion": (True, True, False),
    "reaction_diffusion": (False, True, True),
    "cdr": (True, True, True),
}


class TrainBatch(NamedTuple):
  """CDR training points (float32; float64 under --x64): collocation x_f, t_f (n_f,); initial points x_0 and values u_0
  (n_0,) at t = t_lo; periodic-boundary times t_b (n_b,), u(x_lo, t) = u(x_hi, t)."""
  x_f: np.ndarray
  t_f: np.ndarray
  x_0: np.ndarray
  u_0: np.ndarray
  t_b: np.ndarray


class BoundaryBatch(NamedTuple):
  """Training points of a 2D boundary-value problem (float32; float64 under --x64): interior x_f, t_f (n_f,) (t_f is the
  second coordinate, y); boundary x_b, t_b (4 n_b,), n_b per side."""
  x_f: np.ndarray
  t_f: np.ndarray
  x_b: np.ndarray
  t_b: np.ndarray


def _f32(*arrays):
  return tuple(np.asarray(a, np_real()) for a in arrays)


def _uniform_interior(domain, points, key):
  kx, kt = jax.random.split(key)
  n = points.x_f.shape
  (x_lo, x_hi), (t_lo, t_hi) = domain
  return points._replace(x_f=jax.random.uniform(kx, n, points.x_f.dtype, x_lo, x_hi),
                         t_f=jax.random.uniform(kt, n, points.t_f.dtype, t_lo, t_hi))


@dataclasses.dataclass(frozen=True)
class CDR1D:
  """u_t + beta u_x - nu u_xx - rho u (1 - u) = 0, x in [0, 2 pi) periodic, t in [0, 1].

  mu = (beta, nu, rho); ``active`` says which entries the preset uses (the others must be 0).
  Initial conditions: "sin_1" u0 = 1 + sin x; "gauss_pi_4", "gauss_pi_2": exp(-(x - pi)^2 /
  (2 sigma^2)) with sigma = pi/4, pi/2.
  """
  name: str = "convection"
  init_cond: str = "sin_1"
  active: Tuple[bool, bool, bool] = (True, False, False)
  x_range: Tuple[float, float] = (0.0, 2.0 * math.pi)
  t_range: Tuple[float, float] = (0.0, 1.0)

  n_mu = 3
  mu_names = ("beta", "nu", "rho")
  coords = ("x", "t")
  coord_names = coords
  fields = ("u",)
  time = "t"

  def __post_init__(self):
    if self.init_cond not in INIT_CONDS:
      raise UserError(f"unknown initial condition {self.init_cond!r}; choose one of "
                      f"{tuple(INIT_CONDS)}")

  @property
  def domain(self):
    return (self.x_range, self.t_range)

  def u0(self, x, xp=np):
    """Initial condition at x (any shape); xp is numpy or jax.numpy."""
    return initial_value(self.init_cond, x, xp)

  def u0_slope_jump(self) -> float:
    """u0'(x_lo) - u0'(x_hi): the kink of u0's periodic extension (0 for 1 + sin x; for a Gaussian
    2 (pi / sigma^2) exp(-pi^2 / (2 sigma^2)): 0.345 for sigma = pi/2, 3.4e-3 for sigma = pi/4)."""
    du0 = jax.grad(lambda x: self.u0(x, jnp))
    lo, hi = self.x_range
    return float(du0(jnp.float32(lo)) - du0(jnp.float32(hi)))

  def residual(self, u_fn, x, t, mu, mode: str = derivatives.DEFAULT_MODE, need_xx: bool = True):
    """Residual at ONE point (x, t) for one mu (3,) of the scalar function u_fn(x, t).

    u_t + beta u_x is the derivative along (beta, 1): one jvp. need_xx=False skips u_xx (use it
    only when nu = 0 for every mu the step sees).
    """
    beta, nu, rho = mu[0], mu[1], mu[2]
    u, u_adv = derivatives.directional(u_fn, x, t, beta, 1.0, mode)
    res = u_adv - rho * u * (1.0 - u)
    if need_xx:
      res = res - nu * derivatives.d2(u_fn, x, t, 0, mode)
    return res

  def sample_points(self, cfg, seed: int) -> TrainBatch:
    """Collocation points uniform in the domain; initial points on the uniform periodic grid;
    boundary times on a uniform grid."""
    rng = np.random.default_rng([seed, 0])
    (x_lo, x_hi), (t_lo, t_hi) = self.domain
    x_f = rng.uniform(x_lo, x_hi, cfg.n_f)
    t_f = rng.uniform(t_lo, t_hi, cfg.n_f)
    x_0 = x_lo + (x_hi - x_lo) * np.arange(cfg.n_0) / cfg.n_0
    t_b = np.linspace(t_lo, t_hi, cfg.n_b)
    return TrainBatch(*_f32(x_f, t_f, x_0, self.u0(x_0), t_b))

  def resample(self, points: TrainBatch, key) -> TrainBatch:
    return _uniform_interior(self.domain, points, key)

  def blocks(self, points: TrainBatch, mode: str = derivatives.DEFAULT_MODE,
             need_xx: bool = True):
    """PDE residual at collocation points, initial misfit, periodic-boundary misfit of u and,
    when u_xx is needed (diffusion: second order in x), of u_x too ("bc_x"): matching values
    alone leave a second-order problem free to have a kink at the boundary."""
    (x_lo, x_hi), (t_lo, _) = self.domain

    def f(u, mu, x, t):
      return self.residual(u, x, t, mu, mode, need_xx)

    def ic(u, mu, x, u0):
      return u(x, jnp.asarray(t_lo, x.dtype)) - u0

    def bc(u, mu, t):
      return u(jnp.asarray(x_lo, t.dtype), t) - u(jnp.asarray(x_hi, t.dtype), t)

    def bc_x(u, mu, t):
      # Per mu: only diffusion smooths u0's periodic kink (u0_slope_jump); without it (nu = 0)
      # the kink is carried along and u_x need not be periodic, so a model trained on mu with
      # and without diffusion applies this block where nu != 0 only.
      u_x = lambda x: derivatives.directional(u, x, t, 1.0, 0.0, mode)[1]
      return (u_x(jnp.asarray(x_lo, t.dtype)) - u_x(jnp.asarray(x_hi, t.dtype))) * (mu[1] != 0)

    out = (("f", f, (points.x_f, points.t_f)), ("ic", ic, (points.x_0, points.u_0)),
           ("bc", bc, (points.t_b,)))
    return out + ((("bc_x", bc_x, (points.t_b,)),) if need_xx else ())

  @staticmethod
  def needs_uxx(mus) -> bool:
    """Whether any mu in (n, 3) has diffusion, i.e. the residual needs u_xx."""
    return bool(np.any(np.asarray(mus)[..., 1] != 0))

  def check_mu(self, mus) -> None:
    mus = np.asarray(mus, np.float64).reshape(-1, self.n_mu)
    for i, (name, used) in enumerate(zip(self.mu_names, self.active)):
      if not used and np.any(mus[:, i] != 0):
        raise UserError(f"PDE {self.name!r} has no {name} term: {name} must be 0")
    if np.any(mus[:, 1] < 0):
      raise UserError("nu must be >= 0 (backward diffusion is ill-posed)")

  def reference(self, x, t, mu, tol: float = reference.DEFAULT_TOL) -> np.ndarray:
    """Exact or reference solution at points x, t (same shape) for one mu (3,), float64.

      nu = 0:             closed form along characteristics, logistic(u0(x - beta t), rho, t)
      rho = 0, nu > 0:    exact Fourier solution (reference.fourier_cd)
      rho > 0, nu > 0:    Strang splitting refined to ``tol`` (reference.strang_cdr)
    """
    x = np.asarray(x, np.float64)
    t = np.asarray(t, np.float64)
    (lo, hi), _ = self.domain
    length = hi - lo
    beta, nu, rho = (float(v) for v in np.asarray(mu, np.float64).reshape(3))
    if nu == 0.0:
      xs = lo + np.mod(x - beta * t - lo, length)
      return reference.logistic(self.u0(xs), rho, t)
    if rho == 0.0:
      grid = lo + length * np.arange(reference.DEFAULT_GRID) / reference.DEFAULT_GRID
      return reference.fourier_cd(self.u0(grid), lo, length, x, t, beta, nu)
    return reference.strang_cdr(self.u0, (lo, hi), x, t, beta, nu, rho, tol=tol)[0]


@dataclasses.dataclass(frozen=True)
class Helmholtz2D:
  """u_xx + u_yy + k^2 u - q(x, y; a1, a2) = 0 on [-1, 1]^2, Dirichlet data from the exact solution
  u = sin(a1 pi x) sin(a2 pi y); q = (k^2 - (a1 pi)^2 - (a2 pi)^2) sin(a1 pi x) sin(a2 pi y).

  mu = (a1, a2); the network inputs are (x, y) (y travels in the "t" slot of the generic code).
  The residual is divided by c = k^2 + (a1 pi)^2 + (a2 pi)^2 (``scale_residual``): q is O(c) ~ 100
  for a in [2, 3], so unscaled the PDE term would outweigh the O(1) boundary misfit by ~c^2 in the
  loss; scaled, both are O(1). The scaling does not change the solution.
  """
  name: str = "helmholtz"
  k: float = 1.0
  scale_residual: bool = True
  x_range: Tuple[float, float] = (-1.0, 1.0)
  y_range: Tuple[float, float] = (-1.0, 1.0)

  n_mu = 2
  mu_names = ("a1", "a2")
  coords = ("x", "y")
  coord_names = coords
  fields = ("u",)
  time = None
  init_cond = "none"

  @property
  def domain(self):
    return (self.x_range, self.y_range)

  def exact(self, x, y, mu, xp=np):
    return xp.sin(mu[0] * math.pi * x) * xp.sin(mu[1] * math.pi * y)

  def residual(self, u_fn, x, y, mu, mode: str = derivatives.DEFAULT_MODE, need_xx: bool = True):
    del need_xx  # Helmholtz always needs both second derivatives
    u = u_fn(x, y)
    lap = derivatives.d2(u_fn, x, y, 0, mode) + derivatives.d2(u_fn, x, y, 1, mode)
    q = (self.k ** 2 - (mu[0] * math.pi) ** 2 - (mu[1] * math.pi) ** 2) * self.exact(x, y, mu, jnp)
    res = lap + self.k ** 2 * u - q
    if self.scale_residual:
      res = res / (self.k ** 2 + (mu[0] * math.pi) ** 2 + (mu[1] * math.pi) ** 2)
    return res

  def sample_points(self, cfg, seed: int) -> BoundaryBatch:
    """n_f interior points uniform in the square; n_b uniform points on each of the 4 sides."""
    rng = np.random.default_rng([seed, 0])
    (x_lo, x_hi), (y_lo, y_hi) = self.domain
    x_f = rng.uniform(x_lo, x_hi, cfg.n_f)
    y_f = rng.uniform(y_lo, y_hi, cfg.n_f)
    sx = np.linspace(x_lo, x_hi, cfg.n_b)
    sy = np.linspace(y_lo, y_hi, cfg.n_b)
    x_b = np.concatenate([sx, sx, np.full(cfg.n_b, x_lo), np.full(cfg.n_b, x_hi)])
    y_b = np.concatenate([np.full(cfg.n_b, y_lo), np.full(cfg.n_b, y_hi), sy, sy])
    return BoundaryBatch(*_f32(x_f, y_f, x_b, y_b))

  def resample(self, points: BoundaryBatch, key) -> BoundaryBatch:
    return _uniform_interior(self.domain, points, key)

  def blocks(self, points: BoundaryBatch, mode: str = derivatives.DEFAULT_MODE,
             need_xx: bool = True):
    """PDE residual at interior points and the Dirichlet misfit on the boundary."""
    def f(u, mu, x, y):
      return self.residual(u, x, y, mu, mode)

    def bc(u, mu, x, y):
      return u(x, y) - self.exact(x, y, mu, jnp)

    return (("f", f, (points.x_f, points.t_f)), ("bc", bc, (points.x_b, points.t_b)))

  @staticmethod
  def needs_uxx(mus) -> bool:
    return True

  def check_mu(self, mus) -> None:
    del mus  # any real (a1, a2)

  def reference(self, x, y, mu) -> np.ndarray:
    """The exact solution at points x, y (same shape) for one mu = (a1, a2), float64."""
    mu = np.asarray(mu, np.float64).reshape(2)
    return self.exact(np.asarray(x, np.float64), np.asarray(y, np.float64), mu)


# Built-in problems written with the public Problem API: name -> "module:attribute".
PROBLEMS = {"burgers": "lrpinn_jax.pdes.burgers:problem"}
PRESETS = tuple(CDR_PRESETS) + ("helmholtz",) + tuple(PROBLEMS)


def make_pde(name: str = "convection", init_cond: str = "sin_1"):
  """The PDE for a preset name (and, for the CDR family, an initial condition), a built-in
  Problem by name, or a Problem from a file or module ("path/file.py[:NAME]", "module:NAME")."""
  from lrpinn_jax.problem import _source
  if name in PROBLEMS or _source.is_source(name):
    return _source.load_problem(PROBLEMS.get(name, name))
  if name == "helmholtz":
    return Helmholtz2D()
  if name not in CDR_PRESETS:
    raise UserError(f"unknown PDE {name!r}; choose one of {PRESETS}, or a problem file")
  return CDR1D(name=name, init_cond=init_cond, active=CDR_PRESETS[name])


def pde_of(solver):
  """The PDE or Problem a loaded model was trained on (from its model.json), checked against the
  model: a problem file that changed its coordinates, fields or parameters since is refused."""
  info = solver.info
  pde = make_pde(info.get("pde", "convection"), info.get("init_cond", "sin_1"))
  cfg = solver.config
  have = (len(pde.domain), len(pde.fields), pde.n_mu)
  if have != (cfg.n_in, cfg.n_out, cfg.n_mu):
    raise UserError(f"the model's problem {info.get('pde')} has changed: the model takes "
                    f"{cfg.n_in} coordinates, {cfg.n_out} fields and {cfg.n_mu} parameters, the "
                    f"problem now has {have[0]}, {have[1]} and {have[2]}")
  return pde


def n_residuals(pde, points, need_xx: bool = True) -> int:
  """Length of the stacked residual vector: every entry of every block (a block of a system
  gives several entries per point), counted by shape evaluation with a stand-in network."""
  n_out = len(pde.fields)

  def u(*z):
    v = jnp.tanh(sum(z) + jnp.arange(n_out, dtype=jnp.result_type(z[0])))
    return v[0] if n_out == 1 else v

  mu = jnp.zeros(pde.n_mu, np_real())
  total = 0
  for _, fn, cols in pde.blocks(points, need_xx=need_xx):
    one = jax.eval_shape(lambda *c, fn=fn: fn(u, mu, *c), *(jnp.asarray(c[0]) for c in cols))
    total += int(cols[0].shape[0]) * int(np.prod(one.shape))
  return total


def block_vectors(pde, u_fn: Callable, mu, points, mode: str = derivatives.DEFAULT_MODE,
                  need_xx: bool = True) -> dict:
  """{block name: residual vector} for ONE mu, each block vmapped over its points."""
  return {name: jax.vmap(lambda *c, fn=fn: fn(u_fn, mu, *c))(*cols)
          for name, fn, cols in pde.blocks(points, mode, need_xx)}
