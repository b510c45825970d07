"""Phase 1: train the hypernetwork, the bases U_l, V_l and all other weights over many mu at
once."""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any, Callable, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.fit import losses, sharding
from lrpinn_jax.fit.losses import DEFAULT_MODE
from lrpinn_jax.nn.model import ModelConfig, hyper_s, init_params, point_fn
from lrpinn_jax.precision import real


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Static loss settings shared by Phase 1 and Phase 2.

  >>> LossConfig(weights=(("bc", 10.0), ("s_l1", 3e-5))).weights  # Phase-1 weights by term
  (('bc', 10.0), ('s_l1', 3e-05))
  """

  deriv_mode: str = DEFAULT_MODE
  need_xx: bool = True
  ortho_form: str = losses.DEFAULT_ORTHO
  ortho_w_u: float = 1.0
  ortho_w_v: float = 1.0
  causal_eps: float = 0.0  # 0: off (paper); see losses.pinn_losses
  causal_bins: int = 16
  resample: bool = False  # fresh collocation points every Phase-1 step (see resample_points)
  mu_batch: int = 0  # > 0: each Phase-1 step uses this many training mu drawn without replacement
  mu_sampling: str = "uniform"  # how the mu_batch draw weighs the mu (MU_SAMPLINGS, family_probs)
  # Phase-1 weights of the loss terms, e.g. (("bc", 10.0),); unnamed terms weigh 1 (paper).
  # Phase 2 keeps the unweighted loss. Metrics report the unweighted terms.
  weights: Tuple[Tuple[str, float], ...] = ()
  # > 0: the "s_l1" pressure acts on Phase-1 steps < s_l1_steps only and the rest of the run
  # trains for accuracy alone with the ranks it reached (0: every step)
  s_l1_steps: int = 0


MU_SAMPLINGS = ("uniform", "family")
# Loss terms that weigh 0 unless LossConfig.weights names them: "s_l1", the sum of the
# hypernetwork's s(mu) over layers (an L1 pressure towards lower ranks).
OFF_BY_DEFAULT = {"s_l1": 0.0}


def family_probs(mus: jnp.ndarray) -> jnp.ndarray:
  """Draw probabilities (n,) that give every sub-family of mus (n, d) the same chance, a
  sub-family being the mu with the same nonzero coordinates (CDR: convection, diffusion, ...,
  lrpinn_jax.pdes.mu_sets.family). P2INN's set has 5 convection mu beside 125 CDR mu: uniform draws
  would show a convection mu once every five steps of 8."""
  code = (mus != 0).astype(jnp.int32) @ (2 ** jnp.arange(mus.shape[1]))
  counts = jnp.sum(jax.nn.one_hot(code, 2 ** mus.shape[1]), 0)
  w = 1.0 / counts[code]
  return w / jnp.sum(w)


class Phase1State(NamedTuple):
  """The Phase-1 training state (a pytree): parameters, optimizer state, step count."""

  params: dict  # {"net", "hyper"}
  opt_state: Any
  step: jnp.ndarray  # int32 scalar


class Phase1Batch(NamedTuple):
  """One Phase-1 step's input: the training mu and the problem's points (``make_batch``)."""

  mus: jnp.ndarray  # (n_mu, pde.mu_dim)
  points: Any  # the problem's training points {block: (n, d)} (Problem.sample_points)
  mu_weights: Any = None  # optional (n_mu,) weights of the mu in the mean (None: equal)


def init_phase1(
  cfg: ModelConfig, optimizer: optax.GradientTransformation, key: jax.Array
) -> Phase1State:
  """Phase1State(params {"net", "hyper"}, the optimizer's state, step 0).

  >>> import jax, optax
  >>> from lrpinn_jax import ModelConfig, make_pde
  >>> from lrpinn_jax.fit.data import DataConfig, train_batch
  >>> cfg = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8)
  >>> pde, opt = make_pde("convection"), optax.adam(1e-2)
  >>> state = init_phase1(cfg, opt, jax.random.key(0))
  >>> batch = make_batch([[1.0, 0, 0], [2.0, 0, 0]], train_batch(pde, DataConfig(n_f=64), 0))
  >>> step = jax.jit(make_phase1_step(cfg, pde, opt, LossConfig(need_xx=False)))
  >>> state, metrics = step(state, batch)  # one step over both mu at once
  >>> int(state.step), sorted(metrics)[:3]
  (1, ['bc', 'f', 'ic'])
  """
  params = init_params(cfg, key)
  return Phase1State(params, optimizer.init(params), jnp.zeros((), jnp.int32))


# Above this many bytes of per-step point data x width x mu, each mu gets its own (unbatched)
# program instead of one vmap over mu; at most PER_MU_MAX mu are unrolled (compile time).
PER_MU_ABOVE_BYTES = 4 * 2**20
PER_MU_MAX = 32


def map_mu(fn: Callable, mus: jnp.ndarray, points, width: int, unroll: bool = True):
  """fn over the mu axis of mus (n_mu, d): one vmap, or for large steps (point data x width x
  n_mu above PER_MU_ABOVE_BYTES, n_mu <= PER_MU_MAX) fn applied to each mu separately in the one
  traced program. XLA's CPU backend runs the batched (n_mu, n, 50) x (n_mu, 50, 50) matmuls of
  the vmap well below the speed of n_mu unbatched ones once the activations outgrow the cache
  (official configuration, 11 mu x 1456 points: 38 ms vmapped, 27 ms per mu; BUILD_NOTES).
  unroll=False: always the vmap (a mu axis split over devices must stay one batched axis)."""
  n = mus.shape[0]
  size = sum(a.size for a in jax.tree.leaves(points)) * width * 4 * n
  if unroll and n <= PER_MU_MAX and size > PER_MU_ABOVE_BYTES:
    outs = [fn(mus[i]) for i in range(n)]  # unrolled at trace time: no Python at run time
    return jax.tree.map(lambda *v: jnp.stack(v), *outs)
  return jax.vmap(fn)(mus)


def phase1_loss(
  params: dict,
  cfg: ModelConfig,
  pde,
  loss_cfg: LossConfig,
  batch: Phase1Batch,
  unroll: bool = True,
  pressure=1.0,
) -> Tuple[jnp.ndarray, dict]:
  """The Phase-1 loss of a batch of mu: (total, {term: value}).

      L = mean_mu [ sum_b w_b mean_i r_b(z_i; mu)^2 ] + w_ortho sum_l (||U_l^T U_l - I||_F^2
          + ||V_l^T V_l - I||_F^2) + w_s_l1 mean_mu sum_l sum_i s_l(mu)_i

  over the blocks b of the problem (the PDE residual "f" at the collocation points and one block
  per condition, e.g. "ic", "bc"), each r_b computed with s_l(mu) from the hypernetwork once per
  mu. The weights w come from loss_cfg.weights (default 1; "s_l1", a pressure towards low ranks,
  default 0). batch.mu_weights, when given, replaces the plain mean over mu by a weighted one.
  unroll: see ``map_mu``. pressure: a factor (traced scalar) on w_s_l1, the step's schedule of
  the rank pressure (LossConfig.s_l1_steps).

  >>> import jax, numpy as np
  >>> from lrpinn_jax import DataConfig, ModelConfig, init_params, make_pde
  >>> from lrpinn_jax.fit.data import train_batch
  >>> cfg, pde = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8), make_pde("convection")
  >>> batch = make_batch([[30.0, 0, 0], [40.0, 0, 0]], train_batch(pde, DataConfig(n_f=64), 0))
  >>> total, terms = phase1_loss(init_params(cfg, jax.random.key(0)), cfg, pde,
  ...                            LossConfig(need_xx=False), batch)
  >>> sorted(terms)
  ['bc', 'f', 'ic', 'loss', 'ortho', 's_l1']
  >>> bool(np.isclose(total, terms["f"] + terms["ic"] + terms["bc"] + terms["ortho"], rtol=1e-6))
  True
  """
  train_cfg = dataclasses.replace(cfg, rank_tol=0.0)  # Phase 1 trains the untruncated s

  def per_mu(mu):
    s = hyper_s(train_cfg, params["hyper"], mu)  # once per mu
    u = point_fn(train_cfg, params["net"], s, pde=pde, mu=mu)
    out = losses.pinn_losses(
      u,
      pde,
      mu,
      batch.points,
      loss_cfg.deriv_mode,
      loss_cfg.need_xx,
      loss_cfg.causal_eps,
      loss_cfg.causal_bins,
    )
    # sum of s over every layer (s >= 0): a sparsity pressure on the ranks, weighed 0 unless
    # --loss_weights names it (s_l1=...)
    return {**out, "s_l1": sum(jnp.sum(v) for v in s)}

  per = map_mu(per_mu, batch.mus, batch.points, cfg.width, unroll)  # each (n_mu,)
  if batch.mu_weights is None:
    terms = {k: jnp.mean(v) for k, v in per.items()}
  else:
    share = batch.mu_weights / jnp.maximum(jnp.sum(batch.mu_weights), 1.0)
    terms = {k: jnp.sum(share * v) for k, v in per.items()}
  terms["ortho"] = losses.orthogonality(
    params["net"], cfg.n_lowrank, loss_cfg.ortho_form, loss_cfg.ortho_w_u, loss_cfg.ortho_w_v
  )
  weight = {**OFF_BY_DEFAULT, **dict(loss_cfg.weights)}
  weight["s_l1"] = weight["s_l1"] * pressure
  total = functools.reduce(operator.add, [weight.get(k, 1.0) * v for k, v in terms.items()])
  return total, {"loss": total, **terms}


def resample_points(pde, points, key: jax.Array, step):
  """Fresh uniform collocation points for this step, drawn from fold_in(key, step): a pure
  function of the step count, so a resumed run draws the same points as an uninterrupted one."""
  return pde.resample(points, jax.random.fold_in(key, step))


def make_phase1_step(
  cfg: ModelConfig,
  pde,
  optimizer: optax.GradientTransformation,
  loss_cfg: LossConfig = LossConfig(),
  seed: int = 0,
  mesh=None,
  n_mu: Optional[int] = None,
) -> Callable:
  """Returns the pure step(state, batch) -> (state, metrics); jit it once at the call site.

  seed: the key of the collocation draws (loss_cfg.resample) and of the mu draws
  (loss_cfg.mu_batch); both are pure functions of (seed, step), so resuming is exact.
  mesh: a jax.sharding.Mesh with axis "mu" (lrpinn_jax.fit.sharding): the mu batch of every step is
  split along it (padded with weight-0 copies to a multiple of the mesh size) and the rest is
  replicated; the math is the one-device step's. Feed it ``sharding.phase1_batch(batch, mesh)``
  with n_mu = the number of real mu at the head of that padded batch.
  """
  key = jax.random.key(seed)
  key_mu = jax.random.fold_in(key, 1 << 30)  # a stream apart from the per-step point draws

  def step(state: Phase1State, batch: Phase1Batch):
    if loss_cfg.resample:
      batch = batch._replace(points=resample_points(pde, batch.points, key, state.step))
    real = batch.mus.shape[0] if n_mu is None else n_mu
    if 0 < loss_cfg.mu_batch < real:
      probs = family_probs(batch.mus[:real]) if loss_cfg.mu_sampling == "family" else None
      pick = jax.random.choice(
        jax.random.fold_in(key_mu, state.step), real, (loss_cfg.mu_batch,), replace=False, p=probs
      )
      batch = batch._replace(
        mus=batch.mus[pick], mu_weights=None if batch.mu_weights is None else batch.mu_weights[pick]
      )
    if mesh is not None:
      mus, weights = sharding.pad_mu(batch.mus, batch.mu_weights, mesh.size)
      batch = batch._replace(
        mus=jax.lax.with_sharding_constraint(mus, sharding.split(mesh)),
        mu_weights=jax.lax.with_sharding_constraint(weights, sharding.split(mesh)),
        points=jax.lax.with_sharding_constraint(batch.points, sharding.replicated(mesh)),
      )
    pressure = (
      1.0 if loss_cfg.s_l1_steps <= 0 else jnp.where(state.step < loss_cfg.s_l1_steps, 1.0, 0.0)
    )
    grads, metrics = jax.grad(phase1_loss, has_aux=True)(
      state.params, cfg, pde, loss_cfg, batch, mesh is None, pressure
    )
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return Phase1State(params, opt_state, state.step + 1), metrics

  return step


def predict(cfg: ModelConfig, params: dict, mus, *coords, pde=None) -> jnp.ndarray:
  """u at points (one array (n,) per coordinate, e.g. x, t) for each mu (n_mu, mu_dim):
  (n_mu, n), or (n_mu, n, n_out) for several fields. Zero-shot, hypernetwork only. pde: the
  problem (needed by a model that holds its initial condition exactly, ModelConfig.hard_ic)."""

  def per_mu(mu):
    u = point_fn(cfg, params["net"], hyper_s(cfg, params["hyper"], mu), pde=pde, mu=mu)
    return jax.vmap(u)(*coords)

  return jax.vmap(per_mu)(jnp.asarray(mus, real()))


def make_batch(mus, points) -> Phase1Batch:
  return Phase1Batch(jnp.asarray(np.asarray(mus), real()), jax.tree.map(jnp.asarray, points))
