"""Training points and test sets, deterministic from a seed.

The same points serve every mu (as in the official code); mu is a separate batch axis.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Tuple

import numpy as np

from lrpinn_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Point counts (official defaults).

  >>> DataConfig(n_f=500)
  DataConfig(n_f=500, n_0=256, n_b=100, n_test=1000)
  """

  n_f: int = 1000  # interior collocation points
  n_0: int = 256  # initial-condition points (t = t_min); unused by boundary-value PDEs
  n_b: int = 100  # periodic boundary pairs (CDR) or Dirichlet points per side (Helmholtz)
  n_test: int = 1000  # test points per mu

  def validate(self):
    for k, v in dataclasses.asdict(self).items():
      if int(v) < 1:
        raise UserError(f"--{k} must be a positive integer, got {v}")


class TestSet(NamedTuple):
  """coords: one (n_test,) float64 array per coordinate of the problem (in its order); u: the
  reference for each mu, (n_mu, n_test) float64, or (n_mu, n_test, n_fields) for several fields."""

  coords: Tuple[np.ndarray, ...]
  u: np.ndarray

  @property
  def x(self) -> np.ndarray:
    return self.coords[0]

  @property
  def t(self) -> np.ndarray:  # the second coordinate (y for a steady 2D problem)
    return self.coords[1]


def train_batch(pde, cfg: DataConfig, seed: int):
  """The problem's training points: {"f": interior (n_f, d), condition name: its points}, arrays
  of precision.real() (Problem.sample_points)."""
  return pde.sample_points(cfg, seed)


def test_points(pde, cfg: DataConfig, seed: int) -> Tuple[np.ndarray, ...]:
  """n_test points uniform in the problem's box (every coordinate in (lo, hi]), float64: one
  array per coordinate, the same for every mu."""
  rng = np.random.default_rng([seed, 1])
  return tuple(hi - rng.uniform(0, 1, cfg.n_test) * (hi - lo) for lo, hi in pde.domain)


def test_set(pde, cfg: DataConfig, mus: np.ndarray, seed: int) -> TestSet:
  """``test_points`` and the reference u for each mu (n_mu, mu_dim)."""
  coords = test_points(pde, cfg, seed)
  u = np.stack([pde.reference(*coords, mu) for mu in np.asarray(mus)])
  return TestSet(coords, u)
