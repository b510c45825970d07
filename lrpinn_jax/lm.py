"""Levenberg-Marquardt for Phase 2: a few hundred trainable numbers make second order cheap.

The residual vector stacks the collocation residuals, the initial misfits and the periodic-boundary
misfits, each block scaled by 1/sqrt(count), so ||r||^2 is exactly the Phase-2 loss. Each residual
depends on ONE point, so the Jacobian is built row by row with vmap(grad) (per-point reverse mode):
its cost is a small multiple of one loss evaluation, not one pass per parameter.

Step (Nielsen's damping rule, Marquardt's diagonal scaling):
  (J^T J + lam * D) delta = -J^T r,   D = diag(J^T J) floored at ``diag_floor`` * max,
  solved in the column-scaled variables (see lm_update),
  rho = (L(theta) - L(theta + delta)) / (predicted decrease);
  rho > 0: accept, lam *= max(1/3, 1 - (2 rho - 1)^3), nu = 2;  else: reject, lam *= nu, nu *= 2.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from lrpinn_jax import losses
from lrpinn_jax.model import point_fn
from lrpinn_jax.phase1 import LossConfig
from lrpinn_jax.phase2 import Phase2Batch, merge_net


@dataclasses.dataclass(frozen=True)
class LMConfig:
  init_damping: float = 1e-3
  diag_floor: float = 1e-6
  min_damping: float = 1e-12
  max_damping: float = 1e12


class LMState(NamedTuple):
  trainable: dict  # same pytree as Phase2State.trainable
  frozen: dict
  damping: jnp.ndarray  # lam
  nu: jnp.ndarray  # growth factor after a rejection
  loss: jnp.ndarray  # loss at ``trainable``
  step: jnp.ndarray


def residual_fn(cfg, pde, loss_cfg: LossConfig, frozen: dict, batch: Phase2Batch):
  """theta-pytree -> scaled residual vector (n_f + n_0 + n_b,)."""
  def r(trainable):
    net, s = merge_net(trainable, frozen)
    res = losses.residuals(point_fn(cfg, net, s), pde, batch.mu, batch.points,
                           loss_cfg.deriv_mode, loss_cfg.need_xx)
    return jnp.concatenate([v / jnp.sqrt(v.shape[0]) for v in res.values()])
  return r


def jacobian(cfg, pde, loss_cfg: LossConfig, trainable: dict, frozen: dict, batch: Phase2Batch):
  """(r, J): r (m,), J (m, n) with n = number of trainable numbers, one row per point by vmap(grad)."""
  flat, unravel = ravel_pytree(trainable)
  pts = batch.points
  n_f, n_0, n_b = pts.x_f.shape[0], pts.x_0.shape[0], pts.t_b.shape[0]
  x_lo, x_hi = pde.x_range
  t_lo = pde.t_range[0]

  def u_of(theta):
    net, s = merge_net(unravel(theta), frozen)
    return point_fn(cfg, net, s)

  def res_f(theta, x, t):
    return pde.residual(u_of(theta), x, t, batch.mu, loss_cfg.deriv_mode, loss_cfg.need_xx)

  def res_ic(theta, x, u0):
    return u_of(theta)(x, jnp.asarray(t_lo, x.dtype)) - u0

  def res_bc(theta, t):
    u = u_of(theta)
    return u(jnp.asarray(x_lo, t.dtype), t) - u(jnp.asarray(x_hi, t.dtype), t)

  def rows(fn, *cols):
    vg = jax.vmap(jax.value_and_grad(fn), in_axes=(None,) + (0,) * len(cols))
    return vg(flat, *cols)

  blocks = [(rows(res_f, pts.x_f, pts.t_f), n_f), (rows(res_ic, pts.x_0, pts.u_0), n_0),
            (rows(res_bc, pts.t_b), n_b)]
  r = jnp.concatenate([v / jnp.sqrt(n) for (v, _), n in blocks])
  jac = jnp.concatenate([g / jnp.sqrt(n) for (_, g), n in blocks])
  return r, jac


def init_lm(trainable: dict, frozen: dict, loss0, lm_cfg: LMConfig = LMConfig()) -> LMState:
  return LMState(trainable, frozen, jnp.asarray(lm_cfg.init_damping, jnp.float32),
                 jnp.asarray(2.0, jnp.float32), jnp.asarray(loss0, jnp.float32),
                 jnp.zeros((), jnp.int32))


def lm_update(theta, r, jac, loss_at: Callable, damping, nu, lm_cfg: LMConfig = LMConfig()):
  """One damped Gauss-Newton step for min_theta ||r(theta)||^2, given r (m,) and J (m, n) at theta
  (n,) and loss_at(theta') = ||r(theta')||^2. Returns (theta, loss, damping, nu, accepted, grad).

  The columns of J are scaled to unit norm before the normal equations are formed (Marquardt's
  D = diag(J^T J) applied as a change of variables): in float32 this keeps the solve far better
  conditioned than forming J^T J first. An all-zero column (an s entry pinned by a rank mask) gets
  update exactly 0, so a masked system solves the truncated one.
  """
  col = jnp.sqrt(jnp.sum(jac ** 2, axis=0))
  dead = col == 0
  scale = jnp.where(dead, 0.0, 1.0 / jnp.maximum(col, jnp.sqrt(lm_cfg.diag_floor) * jnp.max(col)))
  js = jac * scale
  g = jac.T @ r
  a = js.T @ js + jnp.diag(jnp.where(dead, 1.0, damping))
  delta = scale * jnp.linalg.solve(a, -(js.T @ r))
  loss = jnp.sum(r ** 2)
  new_loss = loss_at(theta + delta)
  jd = jac @ delta
  predicted = -(2.0 * r @ jd + jd @ jd)  # L(theta) - ||r + J delta||^2
  rho = (loss - new_loss) / jnp.maximum(predicted, 1e-30)
  ok = jnp.isfinite(new_loss) & jnp.all(jnp.isfinite(delta)) & (rho > 0) & (new_loss < loss)
  lam_ok = damping * jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
  damping = jnp.clip(jnp.where(ok, lam_ok, damping * nu), lm_cfg.min_damping, lm_cfg.max_damping)
  nu = jnp.where(ok, 2.0, 2.0 * nu)
  return (jnp.where(ok, theta + delta, theta), jnp.where(ok, new_loss, loss), damping, nu, ok, g)


def make_lm_step(cfg, pde, loss_cfg: LossConfig = LossConfig(),
                 lm_cfg: LMConfig = LMConfig()) -> Callable:
  """Returns the pure Phase-2 step(state, batch) -> (state, metrics); jit it once at the call site.

  metrics: loss (after the step), accepted (bool), damping, grad_norm (||J^T r|| before the step).
  """
  # Per-point gradients w.r.t. s through a merged W = V diag(s) U^T would materialise a d x d
  # outer product per point; the factored form gives d/ds = (V^T h) * (U^T delta) in O(r d).
  # Measured on the official beta = 40 model: 15 ms vs 84 ms per LM step (BUILD_NOTES.md).
  cfg = dataclasses.replace(cfg, merge=False)

  def step(state: LMState, batch: Phase2Batch):
    flat, unravel = ravel_pytree(state.trainable)
    r, jac = jacobian(cfg, pde, loss_cfg, state.trainable, state.frozen, batch)
    res = residual_fn(cfg, pde, loss_cfg, state.frozen, batch)
    loss_at = lambda theta: jnp.sum(res(unravel(theta)) ** 2)
    theta, loss, lam, nu, ok, g = lm_update(flat, r, jac, loss_at, state.damping, state.nu, lm_cfg)
    out = LMState(unravel(theta), state.frozen, lam, nu, loss, state.step + 1)
    return out, {"loss": loss, "accepted": ok, "damping": lam, "grad_norm": jnp.linalg.norm(g)}

  return step
