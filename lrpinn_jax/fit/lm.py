"""Levenberg-Marquardt for Phase 2: a few hundred trainable numbers make second order cheap.

The residual vector stacks the PDE's residual blocks (CDR: collocation residuals, initial misfits,
periodic-boundary misfits; Helmholtz: collocation residuals, Dirichlet misfits), each block scaled
by 1/sqrt(count), so ||r||^2 is exactly the Phase-2 loss. Each residual
depends on ONE point, so the Jacobian is built row by row with vmap(grad) (per-point reverse mode):
its cost is a small multiple of one loss evaluation, not one pass per parameter.

Step (Nielsen's damping rule, Marquardt's diagonal scaling):
  (J^T J + lam * D) delta = -J^T r,   D = diag(J^T J) floored at ``diag_floor`` * max,
  solved in the column-scaled variables (see ``propose``),
  rho = (L(theta) - L(theta + delta)) / (predicted decrease -2 delta.J^T r - delta.J^T J delta);
  rho > 0: accept, lam *= max(1/3, 1 - (2 rho - 1)^3), nu = 2;  else: reject, lam *= nu, nu *= 2.
The state keeps the normal equations (J^T J (n, n), J^T r (n,)) instead of J (m, n): a plain
step needs nothing else, and with m = 1356 residuals and n = 339 numbers that is 4x less memory
per mu (the batched many-query Phase 2 holds one state per mu).

Geodesic acceleration (``LMConfig.geodesic``; Transtrum & Sethna 2012, arXiv:1201.5885): the step
is delta = v + a / 2 with v the step above and a = -(J^T J + lam D)^{-1} J^T r_vv, where
r_vv = (2/h) ((r(theta + h v) - r) / h - J v) is the second directional derivative of r along v by
a finite difference (one residual evaluation, no Jacobian; the state then also keeps J for J v
and J^T r_vv). Steps with 2 |a| / |v| > alpha are
rejected like a failed step. The correction follows the curvature of the residual map, so the
damping can stay smaller and the poorly weighted directions move further per step (measured on
Helmholtz, BUILD_NOTES.md). Off by default (the paper's plain LM). In float32 it stalls near
convergence, where rounding dominates the finite difference (BUILD_NOTES.md, known limits).

Refined solves (``LMConfig.refine``): in float32, J^T J only resolves directions down to about
1e-6 of its largest eigenvalue, so the damping cannot usefully fall below that and LM slows where
the problem needs smaller damping. A few preconditioned conjugate-gradient iterations on
(J^T J + lam D) x = -J^T r, with the system applied as J^T (J x) (J's own float32 accuracy, about
the square root of J^T J's condition number) and the Cholesky factor of the float32 J^T J damped
by at least ``refine_floor`` as preconditioner, let the damping fall further. With geodesic
acceleration this halves the steps to a given accuracy (``python -m benchmarks.lm_variants``,
results/many_query_lm). The state then keeps J.

One network pass per step: the state keeps r and the normal equations at the accepted point, and
each step evaluates r and J at the candidate only (used as the new base if accepted). So the step
compiles to a single Jacobian program, and the first step just evaluates the starting point (it
starts with loss = inf).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lrpinn_jax.fit import losses
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.fit.phase2 import Phase2Batch, merge_net
from lrpinn_jax.nn.model import point_fn
from lrpinn_jax.precision import np_real, real


def n_residuals(pde, points, need_xx: bool = True) -> int:
  """Length of the stacked residual vector: every entry of every block (a block of a system
  gives several entries per point), counted by shape evaluation with a stand-in network."""
  n_out = len(pde.fields)

  def u(*z):
    v = jnp.tanh(sum(z) + jnp.arange(n_out, dtype=jnp.result_type(z[0])))
    return v[0] if n_out == 1 else v

  mu = jnp.zeros(pde.mu_dim, np_real())
  total = 0
  for _, fn, cols in pde.blocks(points, need_xx=need_xx):
    one = jax.eval_shape(lambda *c, fn=fn: fn(u, mu, *c), *(jnp.asarray(c[0]) for c in cols))
    total += int(cols[0].shape[0]) * int(np.prod(one.shape))
  return total


@dataclasses.dataclass(frozen=True)
class LMConfig:
  init_damping: float = 1e-3
  diag_floor: float = 1e-6
  min_damping: float = 1e-12
  max_damping: float = 1e12
  geodesic: bool = False  # geodesic acceleration (module docstring)
  geodesic_h: float = 0.1  # finite-difference step along v (Transtrum & Sethna's value)
  geodesic_alpha: float = 0.75  # largest accepted 2 |a| / |v| (their value)
  # Too curved (2 |a| / |v| > alpha): False rejects the step (Transtrum & Sethna); True takes the
  # plain step v instead. In float32 the finite difference is rounding once the steps are small,
  # every accelerated step is then too curved, and rejecting them stalls LM for good.
  geodesic_fallback: bool = False
  # > 0: refine each solve by this many preconditioned conjugate-gradient iterations on
  # J^T J + lam D applied as J^T (J x), preconditioned by the Cholesky factor of the float32
  # J^T J damped by at least ``refine_floor`` (``solve_damped``). In float32, J^T J itself only
  # resolves directions down to about 1e-6 of its largest eigenvalue; J does far better.
  refine: int = 0
  refine_floor: float = 1e-5
  # Under vmap, solve one matrix at a time (``sequential_solve``) instead of one batched LAPACK
  # call: set by lrpinn_jax.query.many_query on several CPU devices, where the batched call
  # deadlocks (``_sequential``).
  sequential_solve: bool = False

  @property
  def keeps_jac(self) -> bool:
    """The state keeps J (m, n): geodesic acceleration (J v, J^T r_vv) and refinement need it."""
    return self.geodesic or self.refine > 0


# The LM variants by name (``--lm``, ``--optimizer``, ``--phase2_optimizer``, ``--refine_lm``):
# plain (Nielsen damping); with geodesic acceleration (Transtrum & Sethna's settings); and with
# geodesic acceleration that falls back to the plain step when too curved, a finite difference 5
# times longer and steps refined by 3 conjugate-gradient iterations on J (measured against the
# others in results/many_query_lm; the inverse's refinement, results/inverse).
VARIANTS = {
  "lm": LMConfig(),
  "lm_geodesic": LMConfig(geodesic=True),
  "lm_geodesic_pcg": LMConfig(geodesic=True, geodesic_h=0.5, geodesic_fallback=True, refine=3),
}


class LMState(NamedTuple):
  trainable: dict  # accepted point, same pytree as Phase2State.trainable
  frozen: dict
  r: jnp.ndarray  # (m,) residuals at ``trainable``
  jtj: jnp.ndarray  # (n, n) J^T J at ``trainable``
  jtr: jnp.ndarray  # (n,) J^T r at ``trainable``
  jac: object  # (m, n) J at ``trainable`` when lm_cfg.keeps_jac; else None
  damping: jnp.ndarray  # lam
  nu: jnp.ndarray  # growth factor after a rejection
  loss: jnp.ndarray  # ||r||^2 at ``trainable`` (inf before the first step)
  step: jnp.ndarray


def residual_fn(cfg, pde, loss_cfg: LossConfig, frozen: dict, batch: Phase2Batch):
  """theta-pytree -> scaled residual vector (all blocks stacked,)."""

  def r(trainable):
    net, s = merge_net(trainable, frozen)
    res = losses.residuals(
      point_fn(cfg, net, s, pde=pde, mu=batch.mu),
      pde,
      batch.mu,
      batch.points,
      loss_cfg.deriv_mode,
      loss_cfg.need_xx,
    )
    return jnp.concatenate([v.reshape(-1) / jnp.sqrt(v.size) for v in res.values()])

  return r


def block_rows(point: Callable, theta: jnp.ndarray, cols, mean: bool = True) -> tuple:
  """The residual entries of one block and their Jacobian rows; mean=True scales both by
  1/sqrt(entries), so that ||r||^2 is the block's mean square (its Phase-1 loss term).

  point(theta, *c) is the residual at ONE point: a scalar, or a vector (k,) for a system or a
  condition on several fields. vmapped over the points cols (each (n, ...)): r (n k,),
  J (n k, len(theta)), one reverse pass per entry (k cotangents through one vjp).
  """

  def one(*c):
    val, vjp = jax.vjp(lambda th: point(th, *c), theta)
    if val.ndim == 0:
      return val[None], vjp(jnp.ones_like(val))[0][None]
    return val, jax.vmap(lambda ct: vjp(ct)[0])(jnp.eye(val.shape[0], dtype=val.dtype))

  r, jac = jax.vmap(one)(*cols)
  r, jac = r.reshape(-1), jac.reshape(-1, theta.shape[0])
  return (r / jnp.sqrt(r.size), jac / jnp.sqrt(r.size)) if mean else (r, jac)


def jacobian(cfg, pde, loss_cfg: LossConfig, trainable: dict, frozen: dict, batch: Phase2Batch):
  """(r, J): r (m,), J (m, n) with n = number of trainable numbers, one row per residual entry
  (``block_rows``)."""
  flat, unravel = ravel_pytree(trainable)

  def u_of(theta):
    net, s = merge_net(unravel(theta), frozen)
    return point_fn(cfg, net, s, pde=pde, mu=batch.mu)

  blocks = [
    block_rows(lambda theta, *c, fn=fn: fn(u_of(theta), batch.mu, *c), flat, cols)
    for _, fn, cols in pde.blocks(batch.points, loss_cfg.deriv_mode, loss_cfg.need_xx)
  ]
  return jnp.concatenate([r for r, _ in blocks]), jnp.concatenate([j for _, j in blocks])


def init_lm(
  pde, trainable: dict, frozen: dict, points, lm_cfg: LMConfig = LMConfig(), need_xx: bool = True
) -> LMState:
  """Start state; r and J are filled in by the first step (which accepts the starting point).
  need_xx must match the step's LossConfig.need_xx (it decides the CDR "bc_x" block)."""
  m = n_residuals(pde, points, need_xx)
  n = ravel_pytree(trainable)[0].shape[0]
  jac = jnp.zeros((m, n)) if lm_cfg.keeps_jac else None
  return LMState(
    trainable,
    frozen,
    jnp.zeros((m,)),
    jnp.zeros((n, n)),
    jnp.zeros((n,)),
    jac,
    jnp.asarray(lm_cfg.init_damping, real()),
    jnp.asarray(2.0, real()),
    jnp.asarray(jnp.inf, real()),
    jnp.zeros((), jnp.int32),
  )


def normal(r, jac):
  """The normal equations of r (m,), J (m, n): (J^T J (n, n), J^T r (n,))."""
  return jac.T @ jac, jac.T @ r


def spd_solve(a, b):
  """a^{-1} b for a symmetric positive definite a (n, n), b (n,), by Cholesky: half the flops of
  an LU (jnp.linalg.solve), and 0.72 against 2.30 ms at n = 351 (``python -m benchmarks.speed
  --lm``, "solve_cholesky" and "solve_lu"). A matrix that is not positive definite in float32
  gives non-finite values, which the LM step rejects like a failed step (``judge``). The LM
  factors once per step (``damped``) and solves with the factor (``solve_damped``)."""
  return jax.scipy.linalg.cho_solve((_lower_cholesky(a), True), b)


class Damped(NamedTuple):
  """The damped normal system in column-scaled variables x = delta / scale (Marquardt's D =
  diag(J^T J) as a change of variables, the columns of J at unit norm): in float32 this keeps
  the solve far better conditioned than solving with J^T J + lam D directly.

  (S J^T J S + diag(lam)) x = -S g,  delta = S x,  S = diag(scale)."""

  scale: jnp.ndarray  # (n,) 1 / column norm of J; 0 on an all-zero column
  lam: jnp.ndarray  # (n,) the damping; 1 on an all-zero column (its update is exactly 0)
  chol: jnp.ndarray  # (n, n) lower Cholesky factor of S J^T J S + diag(max(lam, floor))


def damped(jtj, damping, lm_cfg: LMConfig = LMConfig()) -> Damped:
  """Factor the damped system of J^T J (n, n) at damping lam (``Damped``); with lm_cfg.refine the
  factor is that of the system damped by at least lm_cfg.refine_floor (the preconditioner)."""
  diag = jnp.diagonal(jtj)
  col = jnp.sqrt(jnp.maximum(diag, 0.0))
  dead = col == 0
  scale = jnp.where(dead, 0.0, 1.0 / jnp.maximum(col, jnp.sqrt(lm_cfg.diag_floor) * jnp.max(col)))
  lam = jnp.where(dead, 1.0, damping)
  shift = jnp.maximum(lam, lm_cfg.refine_floor) if lm_cfg.refine else lam
  a = scale[:, None] * jtj * scale[None, :] + jnp.diag(shift)
  return Damped(scale, lam, _cholesky(a) if lm_cfg.sequential_solve else _lower_cholesky(a))


def _lower_cholesky(a):
  return jax.scipy.linalg.cho_factor(a, lower=True)[0]


@jax.custom_batching.custom_vmap
def _cholesky(a):
  """``_lower_cholesky``; under vmap one matrix at a time (``_sequential``)."""
  return _lower_cholesky(a)


@_cholesky.def_vmap
def _cholesky_vmap(axis_size, in_batched, a):
  a = a if in_batched[0] else jnp.broadcast_to(a, (axis_size,) + a.shape)
  return jax.lax.map(_cholesky, a), True


def _solve_damped(sys: Damped, g, jac, iters: int):
  pre = lambda z: jax.scipy.linalg.cho_solve((sys.chol, True), z)
  b = -sys.scale * g
  x = pre(b)
  if not iters:
    return sys.scale * x
  op = lambda y: sys.scale * (jac.T @ (jac @ (sys.scale * y))) + sys.lam * y
  res = b - op(x)
  z = pre(res)

  def body(_, c):
    x, res, p, rz = c
    ap = op(p)
    alpha = rz / jnp.maximum(jnp.dot(p, ap), 1e-30)
    x, res = x + alpha * p, res - alpha * ap
    z = pre(res)
    rz_new = jnp.dot(res, z)
    return x, res, z + (rz_new / jnp.maximum(rz, 1e-30)) * p, rz_new

  x = jax.lax.fori_loop(0, iters, body, (x, res, z, jnp.dot(res, z)))[0]
  return sys.scale * x


def _sequential(iters: int):
  """``_solve_damped`` with ``iters`` fixed; under vmap one unbatched solve per matrix (lax.map)
  instead of one batched LAPACK call.

  XLA's CPU runtime deadlocked when a vmapped LAPACK call ran inside a while loop beside other
  work in some programs (seen: any many-query step on several CPU devices of one process, and the
  geodesic many-query step on one device while it solved by LU; jaxlib 0.10.2); one matrix at a
  time never did. It is slower on a CPU (the batched call keeps both cores busy), so the
  single-device many-query keeps the batched call (LMConfig.sequential_solve off).
  """

  @jax.custom_batching.custom_vmap
  def solve(sys, g, jac):
    return _solve_damped(sys, g, jac, iters)

  @solve.def_vmap
  def _vmap(axis_size, in_batched, sys, g, jac):
    bcast = lambda a, b: a if b else jnp.broadcast_to(a, (axis_size,) + a.shape)
    args = jax.tree.map(bcast, (sys, g, jac), tuple(in_batched))
    return jax.lax.map(lambda a: solve(*a), args), True

  return solve


def solve_damped(sys: Damped, g, jac=None, lm_cfg: LMConfig = LMConfig()):
  """The damped Gauss-Newton step delta (n,) for the gradient g = J^T r (n,): a Cholesky solve,
  then lm_cfg.refine preconditioned conjugate-gradient iterations on the system applied through
  J (m, n) itself (needed then), which float32 resolves far better than J^T J. An all-zero
  column gets update exactly 0."""
  iters = lm_cfg.refine if jac is not None else 0
  if lm_cfg.sequential_solve:
    return _sequential(iters)(sys, g, jac)
  return _solve_damped(sys, g, jac, iters)


def propose(jtj, jtr, damping, lm_cfg: LMConfig = LMConfig()):
  """The damped Gauss-Newton step delta (n,) from J^T J (n, n) and J^T r (n,) (``damped``,
  ``solve_damped``), without refinement: a config with refine > 0 gets the system damped by at
  least refine_floor, its preconditioner (``update`` refines with J)."""
  return solve_damped(damped(jtj, damping, lm_cfg), jtr, None, lm_cfg)


def predicted_decrease(jtj, jtr, v):
  """||r||^2 - ||r + J v||^2 = -2 v.J^T r - v.J^T J v, without forming r + J v."""
  return -(2.0 * jnp.dot(v, jtr) + jnp.dot(v, jtj @ v))


def accelerate(r, jv, r_h, jt, solve, v, lm_cfg: LMConfig = LMConfig()):
  """Geodesic acceleration of the LM step v (n,): returns (v + a / 2, too curved) where r_h (m,)
  is the residual at theta + h v, jv = J v (m,), r_vv = (2/h) ((r_h - r)/h - J v) (exact for
  quadratic residuals), a = solve(jt(r_vv)) with jt(w) = J^T w and solve(g) the damped step of
  gradient g (the factored system of v), and too curved = 2 |a| > alpha |v|."""
  h = lm_cfg.geodesic_h
  acc = solve(jt((2.0 / h) * ((r_h - r) / h - jv)))
  return v + 0.5 * acc, 2.0 * jnp.linalg.norm(acc) > lm_cfg.geodesic_alpha * jnp.linalg.norm(v)


def judge(loss, new_loss, decrease, damping, nu, lm_cfg: LMConfig = LMConfig()):
  """Accept or reject a step: (accepted, damping, nu). decrease = the linear model's predicted
  decrease of the loss (``predicted_decrease``). A non-finite current loss (the first
  evaluation) always accepts and keeps the damping."""
  first = ~jnp.isfinite(loss)
  rho = (loss - new_loss) / jnp.maximum(decrease, 1e-30)
  better = jnp.isfinite(new_loss) & (rho > 0) & (new_loss < loss)
  ok = first | better
  lam_ok = damping * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
  damping = jnp.where(first, damping, jnp.where(ok, lam_ok, damping * nu))
  damping = jnp.clip(damping, lm_cfg.min_damping, lm_cfg.max_damping)
  return ok, damping, jnp.where(ok, 2.0, 2.0 * nu)


class Core(NamedTuple):
  """The LM iterate on a flat vector: the accepted point and what a step needs there."""

  theta: jnp.ndarray  # (n,) accepted point
  r: jnp.ndarray  # (m,) residuals at theta
  jtj: jnp.ndarray  # (n, n)
  jtr: jnp.ndarray  # (n,)
  jac: Any  # (m, n) J at theta when lm_cfg.keeps_jac; else None
  damping: jnp.ndarray
  nu: jnp.ndarray
  loss: jnp.ndarray  # ||r||^2 at theta (inf before the first evaluation)


def update(
  core: Core,
  rj: Callable,
  lm_cfg: LMConfig = LMConfig(),
  project=None,
  r_only: Optional[Callable] = None,
):
  """One LM step on a least-squares problem theta (n,) -> r (m,): the one step every LM loop of
  the project takes (Phase 2, batched many-query, inverse). rj(theta) -> (r, J) evaluated once,
  at the candidate; project: optional map of every candidate (e.g. a clip to a box; the
  predicted decrease then uses the projected step); r_only(theta) -> r: the residual alone, for
  geodesic acceleration. Returns (core, accepted)."""
  system = damped(core.jtj, core.damping, lm_cfg)  # factored once, for v and a
  solve = lambda g: solve_damped(system, g, core.jac, lm_cfg)
  v = solve(core.jtr)
  delta, too_curved = v, jnp.asarray(False)
  if lm_cfg.geodesic:  # static: plain LM compiles without the extra residual evaluation
    if r_only is None:
      raise ValueError("geodesic acceleration (lm_cfg.geodesic) needs r_only")
    r_h = r_only(core.theta + lm_cfg.geodesic_h * v)
    # the correction a needs no refinement: the preconditioner's solve alone
    solve_a = lambda g: solve_damped(system, g, None, lm_cfg)
    delta, too_curved = accelerate(
      core.r, core.jac @ v, r_h, lambda w: core.jac.T @ w, solve_a, v, lm_cfg
    )
    if lm_cfg.geodesic_fallback:
      delta, too_curved = jnp.where(too_curved, v, delta), jnp.asarray(False)
  cand = core.theta + delta
  if project is not None:
    cand = project(cand)
    v = cand - core.theta
  r, jac = rj(cand)
  jtj, jtr = normal(r, jac)
  new_loss = jnp.where(too_curved, jnp.inf, jnp.sum(r**2))
  ok, lam, nu = judge(
    core.loss, new_loss, predicted_decrease(core.jtj, core.jtr, v), core.damping, core.nu, lm_cfg
  )
  pick = lambda a, b: jnp.where(ok, a, b)
  return Core(
    pick(cand, core.theta),
    pick(r, core.r),
    pick(jtj, core.jtj),
    pick(jtr, core.jtr),
    pick(jac, core.jac) if lm_cfg.keeps_jac else None,
    lam,
    nu,
    jnp.where(ok, new_loss, core.loss),
  ), ok


def minimize(
  rj: Callable,
  theta0,
  steps: int,
  project=None,
  lm_cfg: LMConfig = LMConfig(),
  with_damping: bool = False,
):
  """``steps`` LM steps (``update``) on rj(theta) -> (r (m,), J (m, n)) from theta0 (n,), in a
  lax.fori_loop after one evaluation at theta0; every candidate passed through ``project``.
  Returns (theta, ||r(theta)||^2), and the last damping lam (in the column-scaled variables of
  ``propose``) with with_damping. Pure: jit or vmap it at the call site."""
  r, jac = rj(theta0)
  jtj, jtr = normal(r, jac)
  core = Core(
    theta0,
    r,
    jtj,
    jtr,
    jac if lm_cfg.keeps_jac else None,
    jnp.asarray(lm_cfg.init_damping, real()),
    jnp.asarray(2.0, real()),
    jnp.sum(r**2),
  )
  r_only = lambda th: rj(th)[0]
  core = jax.lax.fori_loop(0, steps, lambda _, c: update(c, rj, lm_cfg, project, r_only)[0], core)
  return (core.theta, core.loss, core.damping) if with_damping else (core.theta, core.loss)


def make_lm_step(
  cfg, pde, loss_cfg: LossConfig = LossConfig(), lm_cfg: LMConfig = LMConfig()
) -> Callable:
  """Returns the pure Phase-2 step(state, batch) -> (state, metrics); jit it once at the call site.

  One Levenberg-Marquardt step on the trainable numbers theta (s, first and last layer) of the
  residual vector r(theta) (every block scaled so that ||r||^2 is the Phase-2 loss):

      (J^T J + lam D) delta = -J^T r,   J = dr/dtheta,   D = diag(J^T J),

  accepted when the loss falls (Nielsen's rule adapts lam; module docstring).
  metrics: loss (at the accepted point after the step), accepted (bool), damping,
  grad_norm (||J^T r|| at the accepted point).

  >>> import jax, numpy as np
  >>> from lrpinn_jax import DataConfig, ModelConfig, init_params, make_pde
  >>> from lrpinn_jax.fit import phase2
  >>> from lrpinn_jax.fit.data import train_batch
  >>> cfg, pde = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8), make_pde("convection")
  >>> params, mu = init_params(cfg, jax.random.key(0)), np.array([30.0, 0, 0])
  >>> trainable, frozen, ranks = phase2.split_params(cfg, params, mu)  # s, start, end | U, V, b
  >>> points = train_batch(pde, DataConfig(n_f=64), 0)
  >>> state = init_lm(pde, trainable, frozen, points, need_xx=False)
  >>> batch = phase2.Phase2Batch(mu, points)
  >>> step = jax.jit(make_lm_step(cfg, pde, LossConfig(need_xx=False)))
  >>> losses = []
  >>> for _ in range(8):
  ...   state, metrics = step(state, batch)
  ...   losses.append(float(metrics["loss"]))
  >>> all(b <= a for a, b in zip(losses, losses[1:]))  # a rejected step keeps the point
  True
  >>> losses[-1] < 0.5 * losses[0]  # losses[0]: the first step evaluates the start
  True
  """
  # Per-point gradients w.r.t. s through a merged W = V diag(s) U^T would materialise a d x d
  # outer product per point; the factored form gives d/ds = (V^T h) * (U^T delta) in O(r d).
  # Measured on the official beta = 40 model: 15 ms vs 84 ms per LM step (BUILD_NOTES.md).
  cfg = dataclasses.replace(cfg, merge=False)

  def step(state: LMState, batch: Phase2Batch):
    flat, unravel = ravel_pytree(state.trainable)
    rj = lambda th: jacobian(cfg, pde, loss_cfg, unravel(th), state.frozen, batch)
    r_only = lambda th: residual_fn(cfg, pde, loss_cfg, state.frozen, batch)(unravel(th))
    core = Core(flat, state.r, state.jtj, state.jtr, state.jac, state.damping, state.nu, state.loss)
    core, ok = update(core, rj, lm_cfg, r_only=r_only)
    out = LMState(
      unravel(core.theta),
      state.frozen,
      core.r,
      core.jtj,
      core.jtr,
      core.jac,
      core.damping,
      core.nu,
      core.loss,
      state.step + 1,
    )
    return out, {
      "loss": out.loss,
      "accepted": ok,
      "damping": core.damping,
      "grad_norm": jnp.linalg.norm(out.jtr),
    }

  return step
