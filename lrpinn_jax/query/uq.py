"""Uncertainty propagation: statistics of u(z; mu) over a grid when mu follows a distribution.

The grid has one axis per coordinate, in reverse coordinate order (time first: (t, x) for the
CDR family, (t, y, x) for Taylor-Green), and a trailing axis of the fields for a system.

The Solver is evaluated for a batch of mu at once (vmap, one compiled program per chunk size) and
the moments are accumulated chunk by chunk, so N samples cost O(chunk x grid) memory.

Methods (``rule``):
  quadrature  Gauss-Legendre nodes per uniform coordinate (Gauss-Hermite for a normal one): in one
              to three dimensions a few dozen nodes integrate a smooth u(mu) to high accuracy.
  qmc         scrambled Sobol points (scipy.stats.qmc), mapped through the inverse CDF.
  mc          plain Monte Carlo; the mean's standard error is std / sqrt(N).
Quantiles come from the nodes or samples as a weighted empirical distribution (for quadrature a
coarse one), from at most ``QUANTILE_SAMPLES`` of them.
Fidelity: zero-shot (hypernetwork only), or refined: each node gets ``refine_steps`` batched LM
Phase-2 steps first (lrpinn_jax.query.many_query).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.train import fmt_time
from lrpinn_jax.precision import real
from lrpinn_jax.problem import Periodic

RULES = ("quadrature", "qmc", "mc")
QUANTILE_SAMPLES = 4096


@dataclasses.dataclass(frozen=True)
class Dist:
  """mu's distribution over its free coordinates ``free`` (others fixed at ``base``).

  kind "uniform": params = ((lo, hi), ...) per free coordinate;
  kind "normal": params = ((mean, std), ...), samples clipped to ``clip`` ((lo, hi), ...).
  """

  kind: str
  params: Tuple[Tuple[float, float], ...]
  free: Tuple[int, ...]
  base: Tuple[float, ...]
  clip: Optional[Tuple[Tuple[float, float], ...]] = None

  def full(self, z: np.ndarray) -> np.ndarray:
    """Free coordinates (n, n_free) -> full mu (n, mu_dim)."""
    mu = np.tile(np.asarray(self.base, np.float64), (len(z), 1))
    mu[:, list(self.free)] = z
    return mu

  def from_unit(self, q: np.ndarray) -> np.ndarray:
    """Points of the unit cube (n, n_free) -> free coordinates by the inverse CDF."""
    p = np.asarray(self.params, np.float64)
    if self.kind == "uniform":
      return p[:, 0] + q * (p[:, 1] - p[:, 0])
    from scipy.stats import norm

    z = p[:, 0] + p[:, 1] * norm.ppf(np.clip(q, 1e-12, 1 - 1e-12))
    return self._clip(z)

  def _clip(self, z):
    if self.clip is None:
      return z
    c = np.asarray(self.clip, np.float64)
    return np.clip(z, c[:, 0], c[:, 1])

  def nodes(self, rule: str, n: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(free coordinates (N, n_free), weights (N,) summing to 1). quadrature: about n nodes in
    all (n^(1/d) per coordinate, tensor product); qmc and mc: n points of equal weight."""
    d = len(self.free)
    if rule == "quadrature":
      k = max(1, int(round(n ** (1.0 / d))))
      axes, ws = [], []
      for lo_or_mean, hi_or_std in self.params:
        if self.kind == "uniform":
          g, w = np.polynomial.legendre.leggauss(k)
          axes.append(lo_or_mean + (g + 1) / 2 * (hi_or_std - lo_or_mean))
          ws.append(w / 2)
        else:
          g, w = np.polynomial.hermite_e.hermegauss(k)
          axes.append(lo_or_mean + hi_or_std * g)
          ws.append(w / np.sqrt(2 * np.pi))
      z = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
      w = np.prod(np.stack(np.meshgrid(*ws, indexing="ij"), -1).reshape(-1, d), 1)
      return self._clip(z), w / w.sum()
    if rule == "qmc":
      from scipy.stats import qmc

      q = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    elif rule == "mc":
      q = np.random.default_rng([seed, 5]).uniform(size=(n, d))
    else:
      raise UserError(f"--method must be one of {RULES}, got {rule!r}")
    return self.from_unit(q), np.full(n, 1.0 / n)


def grid(pde, sizes: Sequence[int]) -> Tuple[np.ndarray, ...]:
  """One array per coordinate (sizes[i] values over its box): [lo, hi) for a coordinate with a
  Periodic condition (its hi is its lo), [lo, hi] for the others."""
  periodic = {c.coord for c in getattr(pde, "conditions", ()) if isinstance(c, Periodic)}
  return tuple(
    np.linspace(lo, hi, n, endpoint=name not in periodic)
    for name, (lo, hi), n in zip(pde.coord_names, pde.domain, sizes)
  )


def grid_points(axes: Sequence[np.ndarray]) -> Tuple[Tuple[np.ndarray, ...], Tuple[int, ...]]:
  """The grid's points as one flat array per coordinate (in coordinate order) and the grid's
  shape (reverse coordinate order: len(axes[-1]), ..., len(axes[0]))."""
  mesh = np.meshgrid(*axes[::-1], indexing="ij")
  return tuple(m.ravel() for m in mesh[::-1]), mesh[0].shape


def statistics(
  field_fn,
  mus: np.ndarray,
  weights: np.ndarray,
  *,
  chunk: int = 256,
  quantiles: Sequence[float] = (0.05, 0.5, 0.95),
  seed: int = 0,
  log=None,
) -> dict:
  """Weighted mean, std and quantiles of field_fn(mu_chunk) (chunk, *shape) over mus (N, mu_dim).

  field_fn must take exactly ``chunk`` mu (the last chunk is padded with weight 0); with
  ``log``, a progress line with ETA about every tenth of the chunks. Returns
  {"mean", "std", "quantiles" (len(q), *shape), "stderr" (std / sqrt(N) for equal weights)}.
  """
  n = len(mus)
  pick = np.sort(
    np.random.default_rng([seed, 9]).choice(n, min(n, QUANTILE_SAMPLES), replace=False)
  )
  s1: Any = None
  s2: Any = None
  kept, kept_w = [], []
  t0 = time.perf_counter()
  for k in range(0, n, chunk):
    part, w = mus[k : k + chunk], weights[k : k + chunk]
    pad = chunk - len(part)
    if pad:
      part = np.concatenate([part, np.repeat(part[-1:], pad, 0)])
      w = np.concatenate([w, np.zeros(pad)])
    u = np.asarray(field_fn(part), np.float64)
    wu = np.tensordot(w, u, 1)
    s1 = wu if s1 is None else s1 + wu
    wu2 = np.tensordot(w, u * u, 1)
    s2 = wu2 if s2 is None else s2 + wu2
    sel = pick[(pick >= k) & (pick < k + chunk)] - k
    kept.append(u[sel])
    kept_w.append(w[sel])
    done = min(k + chunk, n)
    if (
      log is not None and n > chunk and ((k // chunk) % max(1, n // chunk // 10) == 0 or done == n)
    ):
      elapsed = time.perf_counter() - t0
      log(
        f"[uq] {done}/{n} mu, elapsed {fmt_time(elapsed)}  "
        f"ETA {fmt_time(elapsed / done * (n - done))}"
      )
  mean = s1
  std = np.sqrt(np.maximum(s2 - mean**2, 0.0))
  samples, w = np.concatenate(kept), np.concatenate(kept_w)
  order = np.argsort(samples, axis=0)
  ranked = np.take_along_axis(samples, order, 0)
  cw = np.cumsum(w[order], axis=0) / w.sum()
  qs = np.stack(
    [np.take_along_axis(ranked, np.argmax(cw >= q, axis=0)[None], 0)[0] for q in quantiles]
  )
  return {"mean": mean, "std": std, "quantiles": qs, "stderr": std / np.sqrt(n)}


def zero_shot_field(solver, axes: Sequence[np.ndarray]):
  """mu chunk (c, mu_dim) -> u on the grid of ``axes`` (c, *shape[, n_fields]), jitted."""
  points, shape = grid_points(axes)
  pts = [jnp.asarray(a, real()) for a in points]
  f = jax.jit(jax.vmap(lambda mu: solver(*pts, mu)))
  return lambda mus: _on_grid(f(jnp.asarray(mus, real())), len(mus), shape)


def _on_grid(u, n: int, shape) -> np.ndarray:
  u = np.asarray(u)
  return u.reshape((n,) + tuple(shape) + u.shape[2:])


def refined_field(
  solver,
  pde,
  axes: Sequence[np.ndarray],
  steps: int,
  chunk: int,
  need_xx: bool = True,
  seed: int = 0,
):
  """mu chunk (chunk, mu_dim) -> u on the grid after ``steps`` batched LM Phase-2 steps per mu
  (training points of DataConfig() from ``seed``)."""
  from lrpinn_jax.fit.data import DataConfig, train_batch
  from lrpinn_jax.fit.phase1 import LossConfig
  from lrpinn_jax.query import many_query

  points, shape = grid_points(axes)
  pts = [jnp.asarray(a, real()) for a in points]
  cfg = solver.config
  solve = many_query.make_chunk_solver(
    cfg,
    pde,
    solver.params,
    train_batch(pde, DataConfig(), seed),
    steps=steps,
    size=chunk,
    loss_cfg=LossConfig(need_xx=need_xx),
  )
  predict = jax.jit(lambda tr, fr, m: many_query.predict_many(cfg, tr, fr, *pts, pde=pde, mus=m))

  def field(mus):
    trainable, frozen, _ = solve(mus)
    return _on_grid(predict(trainable, frozen, mus), len(mus), shape)

  return field


def convection_uniform_exact(x: np.ndarray, t: np.ndarray, lo: float, hi: float):
  """Exact mean and std of u = 1 + sin(x - beta t) for beta ~ U[lo, hi] on the grid
  (len(t), len(x)): E sin = (cos(x - hi t) - cos(x - lo t)) / ((hi - lo) t), E sin^2 =
  1/2 - (sin(2x - 2 lo t) - sin(2x - 2 hi t)) / (4 (hi - lo) t); the limits at t = 0."""
  xx, tt = np.meshgrid(np.asarray(x, np.float64), np.asarray(t, np.float64))
  span = hi - lo
  with np.errstate(divide="ignore", invalid="ignore"):
    es = np.where(tt > 0, (np.cos(xx - hi * tt) - np.cos(xx - lo * tt)) / (span * tt), np.sin(xx))
    ec2 = np.where(
      tt > 0,
      (np.sin(2 * xx - 2 * lo * tt) - np.sin(2 * xx - 2 * hi * tt)) / (2 * span * tt),
      np.cos(2 * xx),
    )
  es2 = 0.5 - 0.5 * ec2
  return 1.0 + es, np.sqrt(np.maximum(es2 - es**2, 0.0))


def rel_l2(a, b) -> float:
  return float(np.linalg.norm(a - b)) / max(float(np.linalg.norm(b)), 1e-30)


def run(
  solver,
  pde,
  dist: Optional[Dist],
  *,
  rule: str = "quadrature",
  n: int = 64,
  sizes: Sequence[int] = (256, 101),
  refine_steps: int = 0,
  chunk: int = 0,
  seed: int = 0,
  quantiles=(0.05, 0.5, 0.95),
  samples: Optional[np.ndarray] = None,
  log=None,
) -> dict:
  """The whole computation: nodes or samples, fields chunk by chunk, statistics; "seconds".
  sizes: grid points per coordinate (``grid``); samples (N, mu_dim): given mu of equal weight
  instead of ``dist``. Returns {"axes" (one array per coordinate), "mean", "std", "quantiles",
  "stderr" (on the grid, ``grid_points``' shape plus a fields axis for a system),
  "quantile_levels", "n", "seconds"}."""
  t0 = time.perf_counter()
  if samples is not None:
    mus = np.asarray(samples, np.float64)
    w = np.full(len(mus), 1.0 / len(mus))
  else:
    if rule not in RULES:
      raise UserError(f"--method must be one of {RULES}, got {rule!r}")
    if dist is None:
      raise UserError("uq.run needs a distribution of mu (dist) or given samples")
    z, w = dist.nodes(rule, n, seed)
    mus = dist.full(z)
  axes = grid(pde, sizes)
  chunk = chunk or (100 if refine_steps else 256)
  chunk = min(chunk, len(mus))
  field = (
    refined_field(solver, pde, axes, refine_steps, chunk, pde.needs_uxx(mus), seed)
    if refine_steps
    else zero_shot_field(solver, axes)
  )
  stats = statistics(field, mus, w, chunk=chunk, quantiles=quantiles, seed=seed, log=log)
  return {
    "axes": axes,
    **stats,
    "quantile_levels": np.asarray(quantiles),
    "n": len(mus),
    "seconds": time.perf_counter() - t0,
  }
