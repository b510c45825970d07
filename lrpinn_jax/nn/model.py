"""The LR-PINN main network, the hypernetwork, and their configuration.

Parameters are plain pytrees:
  Phase 1: {"net": {"start", "lowrank_0", ..., "end"}, "hyper": {"meta_0", ..., "head_0", ...}}
The main network acts on ONE point z = (x, t) and is vmapped over points by the caller; the
hypernetwork acts on ONE mu and is vmapped over mu. So s(mu) is computed once per mu, never per
point.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import warnings
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, cast

import flax.linen as nn
import jax
import jax.numpy as jnp

from lrpinn_jax import precision
from lrpinn_jax.nn.layers import LowRankDense

default_kernel_init = nn.initializers.xavier_normal()

Ranks = Tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Static architecture settings (hashable, saved as JSON beside every checkpoint).

  Attributes:
    width: hidden width d of the main network (official: 50).
    n_lowrank: number L of low-rank hidden layers (official: 3).
    rank: full rank r of U_l (d, r), V_l (d, r) (official: 50).
    hyper_width, hyper_depth: hypernetwork tanh layers (official: 50, 3).
    n_in: inputs of the main network: the problem's coordinates ((x, t) or (x, y) -> 2).
    n_out: outputs of the main network: the problem's fields (1: a scalar u).
    mu_dim: length of one mu, the hypernetwork's input ((beta, nu, rho) -> 3; Helmholtz (a1, a2)
      -> 2). model.json files and code before this called it n_mu (still read, with a warning
      for the keyword).
    mu_shift, mu_scale: the hypernetwork sees (mu - shift) / scale (mu_dim entries each).
      Identity = the official model.
    lowrank_bias: bias b_l in the low-rank layers (the official model has none).
    merge: None = choose factored or merged low-rank products by FLOP count.
    periods: one entry per coordinate (or () for none): 0 = the network sees that coordinate
      as it is (the paper); P > 0 = it sees cos(2 pi z_i / P) and sin(2 pi z_i / P) instead, so u
      is exactly P-periodic in z_i (a periodic condition holds by construction). The CDR family:
      (2 pi, 0) = (cos x, sin x, t); Taylor-Green: (2 pi, 2 pi, 0). model.json files written with
      the former ``x_period: P`` load as periods (P, 0, ...).
    hard_ic: "" = u is the network output N(z) (paper); the name of the problem's Initial
      condition (e.g. "ic") = u(z) = u0(z; mu) + (t - t0) N(z) on that condition's fields, t0 the
      start of the problem's time box (Problem.exact_initial): the initial condition holds
      exactly for every mu, so the trivial solutions u = 0 or 1 of a reaction term are no longer
      minima of the loss. model.json files before this named a CDR initial condition (e.g.
      "gauss_pi_4"): that is the CDR problem's Initial condition, so they load unchanged.
    sine_start: 0 = first layer h_0 = tanh(W0 z + b0) (paper); omega > 0 = h_0 = sin(omega (W0 z +
      b0)) (SIREN-style first layer): the network starts with oscillations of frequency ~omega |W0|
      instead of having to learn them against tanh's spectral bias (Helmholtz with a >= 2).
    s_init: 0 = hypernetwork heads initialised as every Dense layer (lecun-normal kernel, zero
      bias); c > 0 = head kernels 0 and head biases c, so s_l(mu) = c for EVERY mu at
      initialisation: every mu starts from the same network, whose low-rank layers are
      c U_l V_l^T (c times an orthogonal matrix). With the default init and mu normalised to
      [-1, 1], the hypernetwork's features are odd in mu at init (zero biases), so the ReLU heads
      give mu and -mu disjoint sets of active s entries and s = 0 at the centre.
    t_scale: the network sees c t instead of t (its second input, y for Helmholtz): c of the
      order of the fastest rate in t (e.g. the largest beta of convection) lets first-layer
      features of O(1) weights oscillate as fast in t as the solution does.
    rank_tol: 0 = s_l(mu) as the hypernetwork gives it; tau > 0 = its smallest entries are set
      to zero while the dropped ones have sum s_i^2 <= tau^2 sum s_i^2 (``truncate_s``), so each
      low-rank layer keeps only the rank it needs. With the orthonormal U_l, V_l the
      orthogonality penalty trains, tau is the relative Frobenius norm of the dropped part of
      U_l diag(s) V_l^T. Phase 1 trains the untruncated s; every use of the model (zero-shot,
      the Phase-2 adaptive rank, Solver) sees the truncated one.

  >>> cfg = ModelConfig(rank=20)  # the official architecture but rank 20
  >>> cfg.full_ranks, ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
  ((20, 20, 20), True)
  """

  width: int = 50
  n_lowrank: int = 3
  rank: int = 50
  hyper_width: int = 50
  hyper_depth: int = 3
  n_in: int = 2
  n_out: int = 1
  mu_shift: Tuple[float, ...] = (0.0, 0.0, 0.0)
  mu_scale: Tuple[float, ...] = (1.0, 1.0, 1.0)
  lowrank_bias: bool = True
  merge: Optional[bool] = None
  periods: Tuple[float, ...] = ()
  mu_dim: int = 3
  hard_ic: str = ""
  sine_start: float = 0.0
  s_init: float = 0.0
  t_scale: float = 1.0
  rank_tol: float = 0.0

  def __post_init__(self):
    if len(self.mu_shift) != self.mu_dim or len(self.mu_scale) != self.mu_dim:
      raise ValueError(
        f"mu_shift and mu_scale need mu_dim={self.mu_dim} entries, got "
        f"{self.mu_shift} and {self.mu_scale}"
      )
    if self.periods and len(self.periods) != self.n_in:
      raise ValueError(
        f"periods needs one entry per coordinate (n_in={self.n_in}), got {self.periods}"
      )

  @property
  def full_ranks(self) -> Ranks:
    return (self.rank,) * self.n_lowrank

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, d: dict) -> "ModelConfig":
    d = dict(d)
    for k in ("mu_shift", "mu_scale"):
      d[k] = tuple(float(v) for v in d[k])
    d.pop("t0", None)  # the format before Problem.exact_initial: the problem's time box
    if "n_mu" in d:  # the format before mu_dim
      d["mu_dim"] = d.pop("n_mu")
    x_period = float(d.pop("x_period", 0.0))  # the format before ``periods``
    if x_period:
      d["periods"] = (x_period,) + (0.0,) * (int(d.get("n_in", 2)) - 1)
    d["periods"] = tuple(float(v) for v in d.get("periods", ()))
    return cls(**d)


# The former name of mu_dim, n_mu, still works as a keyword and an attribute, with a warning.
_dataclass_init = ModelConfig.__init__


def _init(self, *args, n_mu: Optional[int] = None, **kwargs):
  if n_mu is not None:
    warnings.warn(
      "ModelConfig(n_mu=...) is now ModelConfig(mu_dim=...)", DeprecationWarning, stacklevel=2
    )
    kwargs.setdefault("mu_dim", int(n_mu))
  _dataclass_init(self, *args, **kwargs)


def _n_mu(self) -> int:
  warnings.warn("ModelConfig.n_mu is now ModelConfig.mu_dim", DeprecationWarning, stacklevel=2)
  return self.mu_dim


setattr(ModelConfig, "__init__", functools.wraps(_dataclass_init)(_init))
setattr(ModelConfig, "n_mu", property(_n_mu))


class LRPINN(nn.Module):
  """u(z) = W_out h_L + b_out, h_{l+1} = tanh(U_l diag(s_l) V_l^T h_l + b_l), h_0 = tanh(W0 z + b0)
  (or sin(sine_start (W0 z + b0)), see ModelConfig).

  Call with z (n_in,) and s, a sequence of L vectors (r_l,). Returns a scalar (n_out = 1) or
  the fields (n_out,).
  """

  width: int
  ranks: Ranks
  lowrank_bias: bool = True
  merge: Optional[bool] = None
  periods: Tuple[float, ...] = ()
  sine_start: float = 0.0
  t_scale: float = 1.0
  n_out: int = 1

  @nn.compact
  def __call__(self, z: jnp.ndarray, s: Sequence[jnp.ndarray]) -> jnp.ndarray:
    if self.t_scale != 1.0:
      z = jnp.concatenate([z[:1], self.t_scale * z[1:]])
    if any(self.periods):
      parts = []
      for i, period in enumerate(self.periods):
        zi = z[i : i + 1]
        if period:
          w = 2.0 * jnp.pi / period
          parts += [jnp.cos(w * zi), jnp.sin(w * zi)]
        else:
          parts.append(zi)
      z = jnp.concatenate(parts)
    h = nn.Dense(self.width, kernel_init=default_kernel_init, name="start")(z)
    h = jnp.sin(self.sine_start * h) if self.sine_start else jnp.tanh(h)
    for l, r in enumerate(self.ranks):
      layer = LowRankDense(
        self.width, r, use_bias=self.lowrank_bias, merge=self.merge, name=f"lowrank_{l}"
      )
      h = jnp.tanh(layer(h, s[l]))
    out = nn.Dense(self.n_out, kernel_init=default_kernel_init, name="end")(h)
    return out[0] if self.n_out == 1 else out


class HyperNetwork(nn.Module):
  """s_l(mu) = ReLU(W_l e + c_l), e = tanh-MLP(mu).

  Call with one mu (mu_dim,); returns L vectors (r,). s_init > 0: W_l = 0 and c_l = s_init at
  initialisation (ModelConfig.s_init).
  """

  width: int
  depth: int
  ranks: Ranks
  s_init: float = 0.0

  @nn.compact
  def __call__(self, mu: jnp.ndarray) -> Tuple[jnp.ndarray, ...]:
    e = mu
    for i in range(self.depth):
      e = jnp.tanh(nn.Dense(self.width, name=f"meta_{i}")(e))
    init: Dict[str, Any] = {}
    if self.s_init:
      init = {
        "kernel_init": nn.initializers.zeros_init(),
        "bias_init": nn.initializers.constant(self.s_init),
      }
    return tuple(
      jax.nn.relu(nn.Dense(r, name=f"head_{l}", **init)(e)) for l, r in enumerate(self.ranks)
    )


def net_module(cfg: ModelConfig, ranks: Optional[Ranks] = None) -> LRPINN:
  return LRPINN(
    cfg.width,
    tuple(ranks or cfg.full_ranks),
    cfg.lowrank_bias,
    cfg.merge,
    tuple(cfg.periods),
    cfg.sine_start,
    cfg.t_scale,
    cfg.n_out,
  )


def hyper_module(cfg: ModelConfig) -> HyperNetwork:
  return HyperNetwork(cfg.hyper_width, cfg.hyper_depth, cfg.full_ranks, cfg.s_init)


@functools.partial(jax.jit, static_argnums=0)
def init_params(cfg: ModelConfig, key: jax.Array) -> dict:
  """Phase-1 parameters {"net", "hyper"} for ``cfg``, as precision.real(). Compiled once per
  configuration: an eager flax init compiles each of its operations on its own."""
  k_net, k_hyper = jax.random.split(key)
  s = tuple(jnp.ones(r) for r in cfg.full_ranks)
  net = net_module(cfg).init(k_net, jnp.zeros(cfg.n_in), s)["params"]
  hyper = hyper_module(cfg).init(k_hyper, jnp.zeros(cfg.mu_dim))["params"]
  return precision.cast({"net": net, "hyper": hyper})


@functools.partial(jax.jit, static_argnums=0)
def hyper_s(cfg: ModelConfig, hyper_params: dict, mu: jnp.ndarray) -> Tuple[jnp.ndarray, ...]:
  """The diagonals s_l(mu) for ONE mu (mu_dim,): a tuple of L arrays (rank,). Compiled once per
  configuration (an eager call is one dispatch; inside a trace it is inlined).

      s_l(mu) = ReLU(W_l e(mu) + c_l),  e(mu) = tanh-MLP((mu - mu_shift) / mu_scale)

  then ``truncate_s`` when ``cfg.rank_tol`` > 0.

  >>> import jax, jax.numpy as jnp
  >>> cfg = ModelConfig(rank=20, s_init=1.0)
  >>> s = hyper_s(cfg, init_params(cfg, jax.random.key(0))["hyper"], jnp.array([35.0, 0, 0]))
  >>> [v.shape for v in s], float(s[0][0])  # s_init = 1: s = 1 for every mu at initialisation
  ([(20,), (20,), (20,)], 1.0)
  """
  mu_n = (mu - jnp.asarray(cfg.mu_shift, mu.dtype)) / jnp.asarray(cfg.mu_scale, mu.dtype)
  s = cast(Tuple[jnp.ndarray, ...], hyper_module(cfg).apply({"params": hyper_params}, mu_n))
  return tuple(truncate_s(v, cfg.rank_tol) for v in s) if cfg.rank_tol else s


def truncate_s(s: jnp.ndarray, tol: float) -> jnp.ndarray:
  """s (r,) >= 0 with its smallest entries set to zero, as many as have
  sum of s_i^2 <= tol^2 ||s||^2 (ties broken by position). Jittable: the count is data, the shape
  is not.

  >>> truncate_s(jnp.array([3.0, 0.1, 4.0, 0.2]), 0.05).tolist()  # 0.1^2 + 0.2^2 <= 0.05^2 * 25.05
  [3.0, 0.0, 4.0, 0.0]
  """
  order = jnp.argsort(s)
  dropped = jnp.cumsum(s[order] ** 2) <= tol**2 * jnp.sum(s**2)
  keep = jnp.zeros(s.shape, bool).at[order].set(~dropped)
  return jnp.where(keep, s, 0.0)


def point_fn(
  cfg: ModelConfig,
  net_params: dict,
  s: Sequence[jnp.ndarray],
  ranks: Optional[Ranks] = None,
  *,
  pde=None,
  mu=None,
) -> Callable[..., jnp.ndarray]:
  """u(*z) for one point, z the n_in coordinates as scalars (e.g. u(x, t)), with s fixed: the
  function PDE losses differentiate. Returns a scalar (n_out = 1) or the fields (n_out,).

      u(z) = W_out h_L + b_out,  h_l = tanh(U_l diag(s_l) V_l^T h_{l-1} + b_l),
      h_0 = tanh(W_0 z + b_0)

  >>> import jax, jax.numpy as jnp
  >>> cfg = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8)
  >>> params = init_params(cfg, jax.random.key(0))
  >>> u = point_fn(cfg, params["net"], hyper_s(cfg, params["hyper"], jnp.array([30.0, 0, 0])))
  >>> u_t = jax.jvp(lambda t: u(1.0, t), (0.5,), (1.0,))[1]  # derivatives by jvp, per point
  >>> u(1.0, 0.5).shape, u_t.shape
  ((), ())

  A model with ``cfg.hard_ic`` holds its problem's initial condition exactly, which may depend
  on mu: pass the problem ``pde`` and the one ``mu`` (mu_dim,) that s belongs to."""
  module = net_module(cfg, ranks or tuple(int(v.shape[0]) for v in s))

  def u(*z):
    return module.apply({"params": net_params}, jnp.stack(z), s)

  if not cfg.hard_ic:
    return u
  if pde is None or mu is None:
    raise ValueError(
      "this model holds its problem's initial condition exactly (hard_ic): "
      "point_fn needs pde= and mu="
    )
  return pde.exact_initial(u, mu)


def ranks_of(s: Sequence[jnp.ndarray]) -> Ranks:
  """Adaptive ranks: number of strictly positive entries of each s_l (concrete arrays only)."""
  return tuple(int(jnp.sum(v > 0)) for v in s)
