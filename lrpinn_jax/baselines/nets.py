"""Baseline networks. A ``Net`` is a pair of pure functions: ``init(key) -> params`` and
``apply(params, mu) -> u(x, t)`` (one point, scalars in and out), so the PDE blocks, losses and
metrics of the main method apply unchanged."""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from lrpinn_jax.nn.model import ModelConfig, default_kernel_init, net_module, point_fn

PAPER_WIDTH = 50  # Table 3: 4 hidden layers of 50 after the input layer, 10,401 parameters
PAPER_DEPTH = 4


class MLP(nn.Module):
  """u(z) = W_out h + b_out, h = tanh-MLP(z): an input layer and ``depth`` hidden layers."""

  width: int = PAPER_WIDTH
  depth: int = PAPER_DEPTH

  @nn.compact
  def __call__(self, z: jnp.ndarray) -> jnp.ndarray:
    h = jnp.tanh(nn.Dense(self.width, kernel_init=default_kernel_init)(z))
    for _ in range(self.depth):
      h = jnp.tanh(nn.Dense(self.width, kernel_init=default_kernel_init)(h))
    return nn.Dense(1, kernel_init=default_kernel_init)(h)[0]


@dataclasses.dataclass(frozen=True)
class Net:
  name: str
  init: Callable  # key -> params
  apply: Callable  # (params, mu) -> u(x, t)
  paper_count: Callable  # params -> number of parameters counted the paper's way


def count(params) -> int:
  return int(sum(x.size for x in jax.tree.leaves(params)))


def pinn(width: int = PAPER_WIDTH, depth: int = PAPER_DEPTH) -> Net:
  """Plain PINN on (x, t), one network per mu (mu only enters through the PDE)."""
  module = MLP(width, depth)

  def apply(params, mu):
    del mu
    return lambda x, t: module.apply(params, jnp.stack([x, t]))

  return Net("pinn", lambda key: module.init(key, jnp.zeros(2)), apply, count)


def pinn_p(
  n_mu: int,
  mu_shift: Sequence[float],
  mu_scale: Sequence[float],
  width: int = PAPER_WIDTH,
  depth: int = PAPER_DEPTH,
) -> Net:
  """PINN-P: the same MLP on (x, t, (mu - shift) / scale), trained once over the training mu."""
  module = MLP(width, depth)
  shift, scale = jnp.asarray(mu_shift, jnp.float32), jnp.asarray(mu_scale, jnp.float32)

  def apply(params, mu):
    m = (jnp.asarray(mu, jnp.float32) - shift) / scale
    return lambda x, t: module.apply(params, jnp.concatenate([jnp.stack([x, t]), m]))

  return Net("pinn_p", lambda key: module.init(key, jnp.zeros(2 + n_mu)), apply, count)


def naive_lr(rank: int, cfg: ModelConfig = ModelConfig()) -> Net:
  """Naive-LR-PINN: the LR-PINN at fixed rank with U, V, s, biases, first and last layers all
  learnable and no hypernetwork. s starts at ones.

  paper_count = first layer + last layer + low-rank biases + s entries (U and V not counted):
  with width 50 and 3 layers 351 + 3 r, i.e. 381, 411, 441, 471, 501 for r = 10..50 (Table 3).
  """
  cfg = dataclasses.replace(cfg, rank=rank)
  module = net_module(cfg)
  ones = tuple(jnp.ones(rank) for _ in range(cfg.n_lowrank))

  def init(key):
    return {"net": module.init(key, jnp.zeros(cfg.n_in), ones)["params"], "s": ones}

  def apply(params, mu):
    del mu
    return point_fn(cfg, params["net"], params["s"])

  def paper_count(params):
    net = params["net"]
    biases = sum(net[f"lowrank_{l}"]["b"].size for l in range(cfg.n_lowrank))
    return count(net["start"]) + count(net["end"]) + biases + count(params["s"])

  return Net(f"naive_lr_r{rank}", init, apply, paper_count)
