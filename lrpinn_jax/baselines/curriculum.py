"""Curriculum regularisation (Krishnapriyan et al. 2021): train a PINN at easy coefficients first
and raise them step by step to the target: mu_k = mu_start + (k + 1) / K (mu_target - mu_start),
k = 0..K-1, each stage warm-started from the previous one."""

from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from lrpinn_jax.baselines.fit import TARGET_ABS_ERR, fit, pinn_loss


def stages(mu_target, n_stages: int, mu_start=None) -> np.ndarray:
  """(n_stages, mu_dim) coefficients ending at mu_target; mu_start defaults to 0."""
  target = np.asarray(mu_target, np.float64)
  start = np.zeros_like(target) if mu_start is None else np.asarray(mu_start, np.float64)
  frac = (np.arange(n_stages) + 1.0) / n_stages
  return start + frac[:, None] * (target - start)


def train(
  net,
  pde,
  mu,
  points,
  seed: int,
  *,
  n_stages: int,
  steps: int,
  lr: float,
  need_xx: bool = True,
  eval_fn: Optional[Callable] = None,
  eval_every: int = 100,
  target: float = TARGET_ABS_ERR,
  mu_start=None,
):
  """Returns (params, info); ``steps`` is the total budget split evenly over the stages;
  ``eval_fn`` is checked in the last stage (the target coefficients) only."""
  per = max(steps // n_stages, 1)
  loss = pinn_loss(net, pde, points, need_xx)
  params = net.init(jax.random.key(seed))
  seconds, info = 0.0, {}
  for k, mu_k in enumerate(stages(mu, n_stages, mu_start)):
    last = k == n_stages - 1
    params, info = fit(
      loss,
      params,
      mu_k,
      steps=per,
      lr=lr,
      eval_fn=eval_fn if last else None,
      eval_every=eval_every,
      target=target,
      step_offset=k * per,
    )
    seconds += info["seconds"]
  return params, {**info, "seconds": seconds, "steps": per * n_stages}
