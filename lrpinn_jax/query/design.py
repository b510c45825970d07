"""Design: find mu whose solution matches a target, by gradient steps through the Solver.

The objective is the mean squared difference between the model's fields at given points (e.g. a
profile u(x, t_target; mu) over x) and a target there; mu moves in box coordinates z in
[0, 1]^d (mu = lo + z (hi - lo), z clipped to the box after each step) under optax Adam with a
cosine decay of the step to lr/1000 (so the last steps settle instead of jittering by lr), from a
grid of starts at once (vmap); the best start wins, and other starts that end at a different mu with
a misfit within 2x of the best are reported: the answer need not be unique (convection at t = 1:
beta and beta - 2 pi give the same profile).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.precision import real


class Design(NamedTuple):
  mu_hat: np.ndarray  # (mu_dim,)
  loss: float  # mean squared misfit at mu_hat
  seconds: float
  others: np.ndarray  # (k, mu_dim) other local minima with misfit <= 2x the best (distinct mu)


def fit_target(
  solver,
  coords,
  target,
  *,
  box,
  fields=None,
  n_starts: int = 11,
  steps: int = 300,
  lr: float = 0.02,
) -> Design:
  """mu in ``box`` ((mu_dim, 2); coordinates with lo == hi fixed) minimising the mean squared
  misfit of the model at points ``coords`` (one array (n,) per coordinate) to ``target``: (n,)
  for one field, (n, k) for the k fields of the indices ``fields`` (None: all of them)."""
  t0 = time.perf_counter()
  box = np.asarray(box, np.float64)
  free = np.flatnonzero(box[:, 1] > box[:, 0])
  lo, span = jnp.asarray(box[free, 0], real()), jnp.asarray(box[free, 1] - box[free, 0], real())
  base = jnp.asarray(box[:, 0], real())
  pts = [jnp.asarray(c, real()) for c in coords]
  goal = jnp.asarray(target, real())
  mu_of = lambda z: base.at[jnp.asarray(free)].set(lo + z * span)
  pick = (lambda u: u) if fields is None else (lambda u: u[..., jnp.asarray(fields)])
  loss_fn = lambda z: jnp.mean((pick(solver(*pts, mu_of(z))) - goal) ** 2)
  opt = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=1e-3))

  def one(z0):
    def step(_, carry):
      z, st = carry
      g = jax.grad(loss_fn)(z)
      upd, st = opt.update(g, st, z)
      return jnp.clip(optax.apply_updates(z, upd), 0.0, 1.0), st

    z, _ = jax.lax.fori_loop(0, steps, step, (z0, opt.init(z0)))
    return z, loss_fn(z)

  k = max(1, int(round(n_starts ** (1.0 / len(free)))))
  axes = [(np.arange(k) + 0.5) / k] * len(free)
  starts = jnp.asarray(
    np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(free)), real()
  )
  z, loss = jax.jit(jax.vmap(one))(starts)
  z, loss = np.asarray(z, np.float64), np.asarray(loss, np.float64)
  best = int(np.argmin(loss))
  others: list = []
  for i in np.argsort(loss):
    near = [np.max(np.abs(z[i] - z[j])) < 0.01 for j in [best] + others]
    if loss[i] <= 2 * loss[best] and not any(near):
      others.append(int(i))
  full = lambda i: np.asarray(mu_of(jnp.asarray(z[i], real())), np.float64)
  return Design(
    full(best),
    float(loss[best]),
    time.perf_counter() - t0,
    np.asarray([full(i) for i in others]).reshape(-1, len(box)),
  )


def fit_profile(solver, x, t_target: float, target, **kwargs) -> Design:
  """``fit_target`` for a profile over x (n,) at the time t_target (a two-coordinate model)."""
  xs = np.asarray(x, np.float64)
  return fit_target(solver, (xs, np.full_like(xs, t_target)), target, **kwargs)
