"""Meta-learned initialisations over the training mu (tasks = mu values): MAML (Finn et al. 2017)
with the inner SGD loop differentiated through (second order) or not (first order), and Reptile
(Nichol et al. 2018). The inner loss is the PINN loss on support points; MAML's outer loss is the
PINN loss of the adapted weights on separate query points."""

from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import optax

META_METHODS = ("maml", "maml_fo", "reptile")


def inner_sgd(loss: Callable, params, mu, *, steps: int, lr: float, first_order: bool = False):
  """``steps`` plain SGD steps on loss(params, mu): p <- p - lr * grad. With first_order the
  gradients are treated as constants (no second derivatives flow through the update)."""

  def body(p, _):
    g = jax.grad(loss)(p, mu)
    if first_order:
      g = jax.lax.stop_gradient(g)
    return jax.tree.map(lambda a, b: a - lr * b, p, g), None

  return jax.lax.scan(body, params, None, length=steps)[0]


def make_meta_step(
  method: str,
  support_loss: Callable,
  query_loss: Callable,
  *,
  inner_steps: int,
  inner_lr: float,
  outer: optax.GradientTransformation,
  reptile_eps: float = 0.1,
) -> Callable:
  """Returns the pure step((params, opt_state), mus (n_task, mu_dim)) -> ((params, opt_state),
  meta loss); tasks are vmapped."""
  if method not in META_METHODS:
    raise ValueError(f"meta method must be one of {META_METHODS}")

  def adapt(p, mu, first_order):
    return inner_sgd(support_loss, p, mu, steps=inner_steps, lr=inner_lr, first_order=first_order)

  def maml_loss(p, mus):
    first_order = method == "maml_fo"
    return jnp.mean(jax.vmap(lambda m: query_loss(adapt(p, m, first_order), m))(mus))

  def step(carry, mus):
    p, s = carry
    if method == "reptile":
      adapted = jax.vmap(lambda m: adapt(p, m, True))(mus)
      delta = jax.tree.map(lambda a, b: jnp.mean(a, 0) - b, adapted, p)
      p = jax.tree.map(lambda a, d: a + reptile_eps * d, p, delta)
      value = jnp.mean(jax.vmap(lambda m: query_loss(p, m))(mus))
      return (p, s), value
    value, g = jax.value_and_grad(maml_loss)(p, mus)
    u, s = outer.update(g, s, p)
    return (optax.apply_updates(p, u), s), value

  return step


def meta_train(
  method: str,
  params,
  support_loss,
  query_loss,
  train_mus,
  *,
  steps: int,
  inner_steps: int,
  inner_lr: float,
  outer_lr: float,
  task_batch: int,
  seed: int,
  reptile_eps: float = 0.1,
):
  """Meta-train an initialisation. Returns (params, info {"seconds", "loss"})."""
  outer = optax.adam(outer_lr)
  step = make_meta_step(
    method,
    support_loss,
    query_loss,
    inner_steps=inner_steps,
    inner_lr=inner_lr,
    outer=outer,
    reptile_eps=reptile_eps,
  )
  mus_all = jnp.asarray(train_mus, jnp.float32)
  n = mus_all.shape[0]
  k = min(task_batch, n)
  key = jax.random.key(seed)

  def body(carry, i):
    pick = jax.random.choice(jax.random.fold_in(key, i), n, (k,), replace=False)
    return step(carry, mus_all[pick])

  run = jax.jit(lambda c, idx: jax.lax.scan(body, c, idx))
  t0 = time.perf_counter()
  (params, _), values = run((params, outer.init(params)), jnp.arange(steps))
  jax.block_until_ready(params)
  return params, {
    "seconds": time.perf_counter() - t0,
    "loss": float(values[-1]) if steps else float("nan"),
  }
