"""PINN-S2S (sequence to sequence in time): [t0, t1] is split into K equal segments trained one
after another; segment k's initial data are segment k-1's predictions at its start time t_k. Each
segment starts from the previous segment's weights (warm start)."""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Optional

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.baselines.fit import TARGET_ABS_ERR, fit, pinn_loss
from lrpinn_jax.problem import Data, Initial


def segment_bounds(pde, k: int) -> np.ndarray:
  t_lo, t_hi = pde.box(pde.time)
  return np.linspace(t_lo, t_hi, k + 1)


def _segment(pde, lo: float, hi: float, initial=None):
  """The problem on the time slab [lo, hi]; ``initial`` (points (n, d), values (n,)) replaces
  its Initial condition by point data under the same name."""
  seg = pde.with_box(**{pde.time: (lo, hi)})
  if initial is None:
    return seg
  conds = tuple(
    Data(c.fields, initial[0], initial[1], name=c.name) if isinstance(c, Initial) else c
    for c in seg.conditions
  )
  return dataclasses.replace(seg, conditions=conds)


def train(
  net,
  pde,
  mu,
  data_cfg,
  seed: int,
  *,
  segments: int,
  steps: int,
  lr: float,
  need_xx: bool = True,
  eval_fn: Optional[Callable] = None,
  eval_every: int = 100,
  target: float = TARGET_ABS_ERR,
):
  """Returns (list of K params, info). ``steps`` is the total budget, split evenly; ``eval_fn``
  (on the joined solution, see ``predict``) is checked during the last segment only, and
  steps_to_target counts the steps of all segments."""
  bounds = segment_bounds(pde, segments)
  per = max(steps // segments, 1)
  mu = jnp.asarray(mu, jnp.float32)
  params = net.init(jax.random.key(seed))
  out: list = []
  seconds, info = 0.0, {}
  ic = next(c.name for c in pde.conditions if isinstance(c, Initial))
  for k in range(segments):
    seg = _segment(pde, float(bounds[k]), float(bounds[k + 1]))
    pts = seg.sample_points(data_cfg, seed + k)
    if k > 0:  # the initial data: the previous segment's prediction at t_k
      z0 = pts[ic]
      u_prev = net.apply(out[-1], mu)
      u0 = np.asarray(jax.vmap(lambda z: u_prev(*z))(jnp.asarray(z0)), np.float64)
      seg = _segment(pde, float(bounds[k]), float(bounds[k + 1]), (z0, u0))
      pts = seg.sample_points(data_cfg, seed + k)
    pts = jax.tree.map(jnp.asarray, pts)
    loss = pinn_loss(net, seg, pts, need_xx)
    last = k == segments - 1
    ev = None
    if last and eval_fn is not None:
      ev = lambda p, done=out: eval_fn(done + [p])
    params, info = fit(
      loss,
      params,
      mu,
      steps=per,
      lr=lr,
      eval_fn=ev,
      eval_every=eval_every,
      target=target,
      step_offset=k * per,
    )
    seconds += info["seconds"]
    out.append(params)
  return out, {**info, "seconds": seconds, "steps": per * segments}


def predict(net, params_list: List, bounds, mu, x, t) -> jnp.ndarray:
  """The joined solution: each point uses the segment that contains its t (the last segment
  includes its right end)."""
  x, t = jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.float32)
  idx = jnp.clip(
    jnp.searchsorted(jnp.asarray(bounds[1:-1], jnp.float32), t, side="right"),
    0,
    len(params_list) - 1,
  )
  mu = jnp.asarray(mu, jnp.float32)
  preds = jnp.stack([jax.vmap(net.apply(p, mu))(x, t) for p in params_list])
  return jnp.take_along_axis(preds, idx[None], axis=0)[0]
