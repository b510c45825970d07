"""The one training loop of the baselines: Adam on loss(params, mu), jitted steps run in lax.scan
chunks, the test error checked between chunks to find the steps needed to reach a target error.

The compiled chunk is cached per (loss, lr, chunk length) and takes mu as an argument, so a method
compiles once and then serves every target mu.
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import optax

from lrpinn_jax.fit import losses
from lrpinn_jax.fit.losses import DEFAULT_MODE

TARGET_ABS_ERR = 0.05  # the paper's Figure 6 threshold: steps until mean |u - u_exact| <= this


def pinn_loss(net, pde, points, need_xx: bool = True, mode: str = DEFAULT_MODE) -> Callable:
  """loss(params, mu) = sum of the PDE's block mean squares (the Phase-2 loss of the main
  method)."""

  def loss(params, mu):
    terms = losses.pinn_losses(net.apply(params, mu), pde, mu, points, mode, need_xx)
    return sum(terms.values())

  return loss


@functools.lru_cache(maxsize=64)
def _chunk(loss: Callable, lr: float, n: int) -> Callable:
  opt = optax.adam(lr)

  def one(carry, _, mu):
    p, s = carry
    value, g = jax.value_and_grad(loss)(p, mu)
    u, s = opt.update(g, s, p)
    return (optax.apply_updates(p, u), s), value

  return jax.jit(lambda carry, mu: jax.lax.scan(lambda c, x: one(c, x, mu), carry, None, length=n))


def fit(
  loss: Callable,
  params,
  mu,
  *,
  steps: int,
  lr: float,
  eval_fn: Optional[Callable] = None,
  eval_every: int = 100,
  target: float = TARGET_ABS_ERR,
  step_offset: int = 0,
):
  """Minimise loss(params, mu) over params with Adam (fresh state) for ``steps`` steps.

  eval_fn(params) -> abs error: evaluated every ``eval_every`` steps (and at step 0); the first
  step count (plus ``step_offset``) where it is <= ``target`` is returned as steps_to_target,
  and the training seconds up to it as seconds_to_target.
  Returns (params, info) with info = {"loss", "seconds", "steps_to_target", "seconds_to_target",
  "curve"}; seconds count training (compilation included), not the evaluations.
  """
  mu = jnp.asarray(mu, jnp.float32)
  carry = (params, optax.adam(lr).init(params))
  done, seconds, reached, reached_s, curve = 0, 0.0, None, None, []
  last = float("nan")
  every = eval_every if eval_fn is not None else max(steps, 1)

  def check():
    nonlocal reached, reached_s
    err = float(eval_fn(carry[0]))
    curve.append((step_offset + done, err))
    if reached is None and err <= target:
      reached, reached_s = step_offset + done, seconds

  if eval_fn is not None:
    check()
  while done < steps:
    n = min(every, steps - done)
    t0 = time.perf_counter()
    carry, values = _chunk(loss, float(lr), n)(carry, mu)
    jax.block_until_ready(carry)
    seconds += time.perf_counter() - t0
    done += n
    last = float(values[-1])
    if eval_fn is not None:
      check()
  info = {"loss": last, "seconds": seconds, "steps_to_target": reached, "curve": curve}
  return carry[0], {**info, "seconds_to_target": reached_s}


def abs_error_fn(net, mu, x, t, u_true) -> Callable:
  """params -> mean |u - u_true| on a test set (jitted)."""
  x, t = jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32)
  u_true = jnp.asarray(u_true, jnp.float32)
  mu = jnp.asarray(mu, jnp.float32)
  return jax.jit(lambda p: jnp.mean(jnp.abs(jax.vmap(net.apply(p, mu))(x, t) - u_true)))
