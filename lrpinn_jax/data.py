"""Training points and test sets, deterministic from a seed.

The same points serve every mu (as in the official code); mu is a separate batch axis.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from lrpinn_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Point counts (official defaults)."""
  n_f: int = 1000  # interior collocation points
  n_0: int = 256  # initial-condition points (t = t_min)
  n_b: int = 100  # boundary pairs (x_min, t) ~ (x_max, t)
  n_test: int = 1000  # test points per mu

  def validate(self):
    for k, v in dataclasses.asdict(self).items():
      if int(v) < 1:
        raise UserError(f"--{k} must be a positive integer, got {v}")


class TrainBatch(NamedTuple):
  """x_f, t_f (n_f,); x_0, u_0 (n_0,); t_b (n_b,). float32."""
  x_f: np.ndarray
  t_f: np.ndarray
  x_0: np.ndarray
  u_0: np.ndarray
  t_b: np.ndarray


class TestSet(NamedTuple):
  """x, t (n_test,) float64 and u (n_mu, n_test) exact, float64."""
  x: np.ndarray
  t: np.ndarray
  u: np.ndarray


def train_batch(pde, cfg: DataConfig, seed: int) -> TrainBatch:
  """Collocation points uniform in the domain; initial points on the uniform periodic grid;
  boundary times on a uniform grid."""
  rng = np.random.default_rng([seed, 0])
  (x_lo, x_hi), (t_lo, t_hi) = pde.x_range, pde.t_range
  x_f = rng.uniform(x_lo, x_hi, cfg.n_f)
  t_f = rng.uniform(t_lo, t_hi, cfg.n_f)
  x_0 = x_lo + (x_hi - x_lo) * np.arange(cfg.n_0) / cfg.n_0
  t_b = np.linspace(t_lo, t_hi, cfg.n_b)
  f32 = lambda a: np.asarray(a, np.float32)
  return TrainBatch(f32(x_f), f32(t_f), f32(x_0), f32(pde.u0(x_0)), f32(t_b))


def test_set(pde, cfg: DataConfig, mus: np.ndarray, seed: int) -> TestSet:
  """n_test points uniform in x in (x_lo, x_hi), t in (t_lo, t_hi], exact u for each mu (n_mu, 3)."""
  rng = np.random.default_rng([seed, 1])
  (x_lo, x_hi), (t_lo, t_hi) = pde.x_range, pde.t_range
  x = x_hi - rng.uniform(0, 1, cfg.n_test) * (x_hi - x_lo)
  t = t_hi - rng.uniform(0, 1, cfg.n_test) * (t_hi - t_lo)
  u = np.stack([pde.reference(x, t, mu) for mu in np.asarray(mus)])
  return TestSet(x, t, u)
