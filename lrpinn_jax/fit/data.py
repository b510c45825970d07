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
  n_0: int = 256  # initial-condition points (t = t_min); unused by boundary-value PDEs
  n_b: int = 100  # periodic boundary pairs (CDR) or Dirichlet points per side (Helmholtz)
  n_test: int = 1000  # test points per mu

  def validate(self):
    for k, v in dataclasses.asdict(self).items():
      if int(v) < 1:
        raise UserError(f"--{k} must be a positive integer, got {v}")


class TestSet(NamedTuple):
  """x, t (n_test,) float64 (t: the second coordinate) and u (n_mu, n_test) reference, float64."""
  x: np.ndarray
  t: np.ndarray
  u: np.ndarray


def train_batch(pde, cfg: DataConfig, seed: int):
  """The problem's training points: {"f": interior (n_f, d), condition name: its points}, arrays
  of precision.real() (Problem.sample_points)."""
  return pde.sample_points(cfg, seed)


def test_points(pde, cfg: DataConfig, seed: int):
  """(x, t): n_test points uniform in the PDE's domain (both coordinates in (lo, hi]), float64;
  the same for every mu."""
  rng = np.random.default_rng([seed, 1])
  (x_lo, x_hi), (t_lo, t_hi) = pde.domain
  x = x_hi - rng.uniform(0, 1, cfg.n_test) * (x_hi - x_lo)
  t = t_hi - rng.uniform(0, 1, cfg.n_test) * (t_hi - t_lo)
  return x, t


def test_set(pde, cfg: DataConfig, mus: np.ndarray, seed: int) -> TestSet:
  """``test_points`` and the reference u for each mu (n_mu, n_mu_dim)."""
  x, t = test_points(pde, cfg, seed)
  u = np.stack([pde.reference(x, t, mu) for mu in np.asarray(mus)])
  return TestSet(x, t, u)
