"""Phase 2 for many mu at once: one jit-compiled call, vmapped over mu, Levenberg-Marquardt steps
in a lax.fori_loop. No Python loop over mu or over steps.

Different mu have different adaptive ranks, so shapes are kept at full rank and the adaptive rank is
a 0/1 mask on s (frozen["mask"]): masked entries stay exactly zero and their Jacobian columns vanish,
so the result equals the truncated per-mu Phase 2 (tests check this).
"""
from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax import lm
from lrpinn_jax.model import ModelConfig, hyper_s
from lrpinn_jax.phase1 import LossConfig
from lrpinn_jax.phase2 import Phase2Batch, RANK_MODES


class ManyQueryResult(NamedTuple):
  trainable: dict  # leaves with a leading mu axis
  frozen: dict  # shared bases + per-mu "mask" (leading mu axis)
  loss: np.ndarray  # (n_mu,) final Phase-2 loss
  seconds: float  # wall time of the batched Phase 2, compilation included


def init_many(cfg: ModelConfig, params: dict, mus, rank_mode: str = "adaptive"):
  """Stacked trainable pytree and frozen pytree (with per-mu masks) for mus (n_mu, pde.n_mu)."""
  assert rank_mode in RANK_MODES
  s = jax.vmap(lambda m: hyper_s(cfg, params["hyper"], m))(jnp.asarray(mus, jnp.float32))
  n = s[0].shape[0]
  mask = tuple((v > 0).astype(jnp.float32) if rank_mode == "adaptive" else jnp.ones_like(v)
               for v in s)
  net = params["net"]
  bcast = lambda tree: jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), tree)
  trainable = {"s": s, "start": bcast(net["start"]), "end": bcast(net["end"])}
  frozen = {k: v for k, v in net.items() if k.startswith("lowrank_")}
  frozen["mask"] = mask
  return trainable, frozen


def _in_axes(frozen: dict) -> dict:
  return {k: (0 if k == "mask" else None) for k in frozen}


def make_many_lm(cfg: ModelConfig, pde, loss_cfg: LossConfig, steps: int,
                 lm_cfg: lm.LMConfig = lm.LMConfig()):
  """Returns solve(trainable, frozen, mus, points) -> (trainable, loss (n_mu,)), to jit once."""
  step = lm.make_lm_step(cfg, pde, loss_cfg, lm_cfg)

  def solve(trainable, frozen, mus, points):
    axes = lm.LMState(0, _in_axes(frozen), 0, 0, 0, 0, 0, 0, 0)
    init = lambda tr, fr: lm.init_lm(pde, tr, fr, points, lm_cfg, need_xx=loss_cfg.need_xx)
    state = jax.vmap(init, in_axes=(0, _in_axes(frozen)),
                     out_axes=axes)(trainable, frozen)
    vstep = jax.vmap(lambda st, mu: step(st, Phase2Batch(mu, points))[0], in_axes=(axes, 0),
                     out_axes=axes)
    state = jax.lax.fori_loop(0, steps, lambda _, st: vstep(st, mus), state)
    return state.trainable, state.loss

  return solve


def run_many(cfg: ModelConfig, pde, params: dict, mus, points, *, steps: int,
             rank_mode: str = "adaptive", loss_cfg: LossConfig = LossConfig(),
             lm_cfg: lm.LMConfig = lm.LMConfig()) -> ManyQueryResult:
  """Batched LM Phase 2 for all ``mus`` (n_mu, pde.n_mu); seconds include compilation."""
  t0 = time.perf_counter()
  trainable, frozen = init_many(cfg, params, mus, rank_mode)
  solve = jax.jit(make_many_lm(cfg, pde, loss_cfg, steps, lm_cfg))
  pts = jax.tree.map(jnp.asarray, points)
  trainable, loss = solve(trainable, frozen, jnp.asarray(mus, jnp.float32), pts)
  jax.block_until_ready(trainable)
  return ManyQueryResult(trainable, frozen, np.asarray(loss), time.perf_counter() - t0)


def predict_many(cfg: ModelConfig, trainable: dict, frozen: dict, x, t) -> jnp.ndarray:
  """u at x, t (n,) for every mu of a batched Phase 2: (n_mu, n)."""
  from lrpinn_jax.phase2 import predict
  return jax.vmap(lambda tr, fr: predict(cfg, tr, fr, x, t), in_axes=(0, _in_axes(frozen)))(
      trainable, frozen)


def trainable_counts(trainable: dict, frozen: dict) -> np.ndarray:
  """Trainable numbers per mu: unmasked s entries + first and last layers. (n_mu,)"""
  per_layer = sum(np.asarray(m).sum(axis=1) for m in frozen["mask"])
  dense = sum(np.prod(a.shape[1:]) for k in ("start", "end") for a in jax.tree.leaves(trainable[k]))
  return (per_layer + dense).astype(int)


def beta_study(solver, betas, *, steps: int = 100, rank_mode: str = "adaptive", seed: int = 0,
               data=None, log=print) -> dict:
  """The convection many-query study: zero-shot and batched LM Phase 2 for every beta in
  ``betas`` (n,) with nu = rho = 0, errors on each beta's own test set.

  Returns {"seconds", "phase2_steps", "rank_mode", "betas": [{"beta", "zero_shot_rel_err",
  "phase2_rel_err", "ranks", "trainable_params"}]} (the many_query.json layout).
  """
  from lrpinn_jax.data import DataConfig, test_set, train_batch
  from lrpinn_jax.metrics import errors
  from lrpinn_jax.pde import make_pde
  from lrpinn_jax.phase1 import predict

  data = data or DataConfig()
  pde = make_pde(solver.info.get("pde", "convection"))
  betas = np.asarray(betas, np.float64)
  mus = np.stack([betas, np.zeros_like(betas), np.zeros_like(betas)], 1).astype(np.float32)
  points = train_batch(pde, data, seed)
  test = test_set(pde, data, mus, seed)
  x, t = jnp.asarray(test.x, jnp.float32), jnp.asarray(test.t, jnp.float32)
  cfg = solver.config
  zero = np.asarray(jax.jit(lambda p: predict(cfg, p, mus, x, t))(solver.params))
  log(f"[many_query] {len(betas)} betas in [{betas.min():g}, {betas.max():g}], {steps} LM steps, "
      f"one batched call")
  res = run_many(cfg, pde, solver.params, mus, points, steps=steps, rank_mode=rank_mode,
                 loss_cfg=LossConfig(need_xx=pde.needs_uxx(mus)))
  u = np.asarray(predict_many(cfg, res.trainable, res.frozen, x, t))
  counts = trainable_counts(res.trainable, res.frozen)
  rows = []
  for i, b in enumerate(betas):
    ranks = [int(np.asarray(m[i]).sum()) for m in res.frozen["mask"]]
    rows.append({"beta": float(b), "zero_shot_rel_err": errors(zero[i], test.u[i])["rel_err"],
                 "phase2_rel_err": errors(u[i], test.u[i])["rel_err"], "ranks": ranks,
                 "trainable_params": int(counts[i])})
  return {"seconds": res.seconds, "phase2_steps": steps, "rank_mode": rank_mode, "betas": rows}


def worst_in(study: dict, lo: float, hi: float, key: str = "phase2_rel_err") -> float:
  """Largest ``key`` over the betas of a beta_study in [lo, hi] (nan if none)."""
  vals = [r[key] for r in study["betas"] if lo <= r["beta"] <= hi]
  return float(np.max(vals)) if vals else float("nan")
