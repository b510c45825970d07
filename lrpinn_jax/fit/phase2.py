"""Phase 2: fine-tune one mu, training only s_l, the first and the last layer.

The pytree is split into ``trainable`` = {"s": (s_0, ..., s_{L-1}), "start", "end"} and ``frozen``
= {"lowrank_l": {"U", "V", "b"}}; gradients are taken w.r.t. ``trainable`` only, so frozen leaves
cannot move whatever the optimizer does.

Rank modes:
  "full":     all r entries of s_l are kept (zeros from the ReLU may become nonzero);
  "adaptive": the zero entries of s_l(mu) and the matching columns of U_l, V_l are dropped, so the
              network really is smaller (fewer FLOPs and fewer trainable numbers).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import losses
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.nn.model import ModelConfig, Ranks, hyper_s, point_fn
from lrpinn_jax.precision import real

RANK_MODES = ("adaptive", "full")


class Phase2State(NamedTuple):
  """The Phase-2 state for one mu (a pytree): trainable and frozen parts, optimizer state, step."""

  trainable: dict  # {"s": tuple of (r_l,), "start", "end"}
  frozen: dict  # {"lowrank_l": {"U", "V", "b"}}
  opt_state: Any
  step: jnp.ndarray


class Phase2Batch(NamedTuple):
  """One Phase-2 step's input: the target mu and the problem's points."""

  mu: jnp.ndarray  # (pde.mu_dim,)
  points: Any  # the problem's training points {block: (n, d)}


def split_params(
  cfg: ModelConfig, params: dict, mu, rank_mode: str = "adaptive"
) -> Tuple[dict, dict, Ranks]:
  """Phase-1 params -> (trainable, frozen, ranks) for one ``mu``, s initialised by the
  hypernetwork."""
  if rank_mode not in RANK_MODES:
    raise UserError(f"rank mode must be one of {RANK_MODES}, got {rank_mode!r}")
  s_all = [np.asarray(v) for v in hyper_s(cfg, params["hyper"], jnp.asarray(mu, real()))]
  net = params["net"]
  frozen, s = {}, []
  for l, s_l in enumerate(s_all):
    layer = dict(net[f"lowrank_{l}"])
    if rank_mode == "adaptive":
      keep = np.flatnonzero(s_l > 0)
      s_l = s_l[keep]
      layer["U"], layer["V"] = layer["U"][:, keep], layer["V"][:, keep]
    frozen[f"lowrank_{l}"] = layer
    s.append(jnp.asarray(s_l))
  trainable = {"s": tuple(s), "start": net["start"], "end": net["end"]}
  return trainable, frozen, tuple(int(v.shape[0]) for v in s)


def merge_net(trainable: dict, frozen: dict) -> Tuple[dict, tuple]:
  """(network params, s) from the split pytrees.

  An optional frozen["mask"] (tuple of 0/1 vectors like s) pins entries of s at zero: adaptive rank
  expressed without changing shapes, which is what batching many mu with different ranks needs.
  """
  net = {k: v for k, v in frozen.items() if k != "mask"}
  s = trainable["s"]
  if "mask" in frozen:
    s = tuple(v * m for v, m in zip(s, frozen["mask"]))
  return {**net, "start": trainable["start"], "end": trainable["end"]}, s


def init_phase2(
  cfg: ModelConfig,
  params: dict,
  mu,
  optimizer: optax.GradientTransformation,
  rank_mode: str = "adaptive",
) -> Phase2State:
  """Phase2State for one mu: the trainable part (s, first and last layer; ``split_params``), the
  frozen bases, the optimizer's state on the trainable part only, step 0.

  >>> import jax, numpy as np, optax
  >>> from lrpinn_jax import ModelConfig, init_params
  >>> cfg = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8)
  >>> state = init_phase2(cfg, init_params(cfg, jax.random.key(0)), np.array([30.0, 0, 0]),
  ...                     optax.adam(1e-3))
  >>> sorted(state.trainable), sorted(state.frozen)
  (['end', 's', 'start'], ['lowrank_0', 'lowrank_1'])
  """
  trainable, frozen, _ = split_params(cfg, params, mu, rank_mode)
  return Phase2State(trainable, frozen, optimizer.init(trainable), jnp.zeros((), jnp.int32))


def phase2_loss(
  trainable: dict, frozen: dict, cfg: ModelConfig, pde, loss_cfg: LossConfig, batch: Phase2Batch
):
  net, s = merge_net(trainable, frozen)
  u = point_fn(cfg, net, s, pde=pde, mu=batch.mu)
  terms = losses.pinn_losses(u, pde, batch.mu, batch.points, loss_cfg.deriv_mode, loss_cfg.need_xx)
  total = sum(terms.values())
  return total, {"loss": total, **terms}


def make_phase2_step(
  cfg: ModelConfig,
  pde,
  optimizer: optax.GradientTransformation,
  loss_cfg: LossConfig = LossConfig(),
) -> Callable:
  """Returns the pure step(state, batch) -> (state, metrics) (Adam or any optax optimizer)."""

  def step(state: Phase2State, batch: Phase2Batch):
    grads, metrics = jax.grad(phase2_loss, has_aux=True)(
      state.trainable, state.frozen, cfg, pde, loss_cfg, batch
    )
    updates, opt_state = optimizer.update(grads, state.opt_state, state.trainable)
    trainable = optax.apply_updates(state.trainable, updates)
    return Phase2State(trainable, state.frozen, opt_state, state.step + 1), metrics

  return step


def predict(
  cfg: ModelConfig, trainable: dict, frozen: dict, *coords, pde=None, mu=None
) -> jnp.ndarray:
  """u at points (one array (n,) per coordinate, e.g. x, t) with the fine-tuned model: (n,), or
  (n, n_out) for several fields. pde, mu (mu_dim,): the problem and the mu it was fine-tuned for
  (needed by a model that holds its initial condition exactly, ModelConfig.hard_ic)."""
  net, s = merge_net(trainable, frozen)
  u = point_fn(cfg, net, s, pde=pde, mu=None if mu is None else jnp.asarray(mu, real()))
  return jax.vmap(u)(*(jnp.asarray(c, real()) for c in coords))


def trainable_count(trainable: dict) -> int:
  return int(sum(x.size for x in jax.tree.leaves(trainable)))
