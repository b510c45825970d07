"""Inverse problem: mu from observations of u, through the differentiable Phase-1 Solver.

The data misfit r(theta) = (solver(x_i, t_i, mu(theta)) - u_i) / sigma over the free coordinates
theta of mu (the others held at ``base_mu``) is minimised by Levenberg-Marquardt
(lrpinn_jax.fit.lm.minimize, the step Phase 2 takes; Jacobian by forward mode: one column per
free coordinate) from a grid of starts over the training box at once (vmap; the misfit in beta
is multimodal for convection), and
the start with the lowest misfit wins. Its uncertainty is the Laplace approximation at the
optimum: cov = sigma^2 (J^T J)^{-1} with J = du/dtheta (n_obs, n_free) and sigma the larger of
the given noise level and the fit's own ||u_fit - u|| / sqrt(n_obs - n_free): the surrogate's
error (about 1-3% relative zero-shot) adds to the data noise, and an interval from the nominal
noise alone would be too narrow.

Joint refinement (``refine``), how a PINN solves an inverse problem: from that estimate, the
free mu coordinates AND the Phase-2 parameters (s, first and last layer; the hypernetwork is left
behind) are fitted together by LM (``REFINE_LM``: geodesic acceleration, refined steps) on the
stacked residual
  r = [Phase-2 residual blocks (PDE at collocation points, initial, boundary; each scaled by
       1/sqrt(count)), sqrt(w / n_obs) (u(x_i, t_i) - u_i)],
so the PDE, not the hypernetwork's approximation of its solution, ties u to mu. Its interval
is the sandwich covariance of that least-squares estimate (``sandwich``): the residual blocks
perturbed independently, the data by the noise level and each PDE or condition block by the mean
square the refinement left in it, the measurable part of the surrogate's own error. Over 100
trials per setting this gives calibrated intervals (95% coverage 95-99 of 100 on every
coordinate) where the Laplace posterior with the PDE rows on the data's scale was too wide
(results/inverse/README.md).

>>> # obs = Observations((x, t), u)            # or several fields: u (n, k), fields=(0, 1)
>>> # est = fit_mu(solver, obs, box=[(30, 40), (0, 0), (0, 0)], sigma=0.01)
>>> # est.mu_hat, est.std, est.ci95
>>> # joint = refine(solver, pde, obs, est, sigma=0.01, steps=100)
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import lm
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.fit.phase2 import merge_net, split_params
from lrpinn_jax.io import programs
from lrpinn_jax.nn.model import point_fn
from lrpinn_jax.precision import real

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


class Estimate(NamedTuple):
  mu_hat: np.ndarray  # (mu_dim,) the estimate (fixed coordinates at base_mu)
  free: Tuple[int, ...]  # the estimated coordinates of mu
  cov: np.ndarray  # (n_free, n_free) Laplace covariance
  std: np.ndarray  # (n_free,)
  ci95: np.ndarray  # (n_free, 2) mu_hat -/+ 1.96 std
  sigma: float  # the noise level used: max(given, estimated from the fit)
  data_rel_residual: float  # ||u_fit - u|| / ||u||
  seconds: float  # wall time of this call (compilation included on the first call)
  pde_residual_rms: Optional[float] = None  # refine only: RMS of the PDE residual at the end


class Observations(NamedTuple):
  """Data of a problem's solution: coords, one (n_obs,) array per coordinate (the problem's
  order); u, (n_obs,) for one observed field or (n_obs, k) for k; fields, the indices of the
  observed fields in the problem's order; sigma, the noise standard deviation if known."""

  coords: Tuple[np.ndarray, ...]
  u: np.ndarray
  fields: Tuple[int, ...] = (0,)
  sigma: Optional[float] = None


def _select(out, fields: Tuple[int, ...], n_fields: int):
  """The observed fields of a model output (..., ) or (..., n_fields), flattened per point:
  (...,) for one field, (..., k) for several."""
  if n_fields == 1:
    return out
  out = out[..., jnp.asarray(fields)]
  return out[..., 0] if len(fields) == 1 else out


def _n_out(solver) -> int:
  """Fields of a Solver's output (any callable without a config: one)."""
  return getattr(getattr(solver, "config", None), "n_out", 1)


def _grid(box: np.ndarray, n: int) -> np.ndarray:
  """Starts: about n points on a regular grid over the box (n_free, 2), cell centres."""
  d = box.shape[0]
  k = max(1, int(round(n ** (1.0 / d))))
  axes = [lo + (hi - lo) * (np.arange(k) + 0.5) / k for lo, hi in box]
  return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)


def make_fitter(
  solver,
  free: Sequence[int],
  base_mu,
  box,
  *,
  fields: Sequence[int] = (0,),
  steps: int = 30,
  lm_cfg: lm.LMConfig = lm.LMConfig(),
):
  """Returns fit(starts, coords, u, sigma) -> (theta (n_starts, n_free), loss (n_starts,),
  J = du/dtheta (n_starts, n_obs k, n_free), residual u_fit - u (n_starts, n_obs k)), jitted and
  stored (lrpinn_jax.io.programs): LM on the misfit of the observed ``fields`` from every start
  at once, each clipped to the box after every step."""
  free = tuple(int(i) for i in free)
  fields = tuple(int(i) for i in fields)
  base_np = np.asarray(base_mu, np.float64)
  box_np = np.asarray(box, np.float64)
  n_out = _n_out(solver)

  def model(solver, theta, coords):
    base = jnp.asarray(base_np, real())
    out = solver(*coords, base.at[jnp.asarray(free)].set(theta))
    return _select(out, fields, n_out).reshape(-1)

  def one(solver, theta0, coords, u, sigma):
    lo, hi = (jnp.asarray(box_np[:, i], real()) for i in (0, 1))

    def rj(theta):
      r = (model(solver, theta, coords) - u.reshape(-1)) / sigma
      jac = jax.jacfwd(lambda th: model(solver, th, coords))(theta) / sigma
      return r, jac

    theta, loss = lm.minimize(rj, theta0, steps, lambda th: jnp.clip(th, lo, hi), lm_cfg)
    r, jac = rj(theta)
    return theta, loss, jac * sigma, r * sigma

  run = jax.vmap(one, in_axes=(None, 0, None, None, None))
  key = _program_key(solver, free, fields, steps, lm_cfg, base_np.tolist(), box_np.tolist())
  if key is None:  # any callable (not a Solver pytree): part of the program, not an argument
    return jax.jit(lambda *args: run(solver, *args))
  prog = programs.stored(run, "inverse_fit", key)
  return lambda starts, coords, u, sigma: prog(solver, starts, coords, u, sigma)


def _program_key(solver, *settings) -> Optional[str]:
  """A stored program's key (lrpinn_jax.io.programs): the model's architecture, problem, float
  precision and the caller's settings; None for a user's problem (not stored)."""
  problem = programs.problem_key(solver) if hasattr(solver, "params") else None
  if problem is None:
    return None
  return repr((solver.config, problem, str(real()), settings))


def check_observations(pde, obs: Observations, n_mu_model: int) -> Observations:
  """One-line UserError for observations the model cannot explain: shapes, NaNs, domain,
  fields; returns them as float64 arrays."""
  coords = tuple(np.asarray(c, np.float64) for c in obs.coords)
  u = np.asarray(obs.u, np.float64)
  n = coords[0].shape[0] if coords and coords[0].ndim == 1 else -1
  k = len(obs.fields)
  want = (n,) if k == 1 else (n, k)
  if (
    len(coords) != len(pde.domain)
    or n <= 0
    or any(c.shape != (n,) for c in coords)
    or u.shape not in (want, (n, 1) if k == 1 else want)
  ):
    raise UserError(
      f"observations: one 1-D array of one length per coordinate "
      f"{tuple(pde.coord_names)} and values of shape (n,) or (n, fields), got "
      f"coordinate shapes {[c.shape for c in coords]} and values {u.shape}"
    )
  if not (all(np.all(np.isfinite(c)) for c in coords) and np.all(np.isfinite(u))):
    raise UserError("observations contain NaN or infinite values")
  for c, name, (lo, hi) in zip(coords, pde.coord_names, pde.domain):
    if c.min() < lo or c.max() > hi:
      raise UserError(f"observations outside the domain: {name} must be in [{lo:g}, {hi:g}]")
  if n_mu_model != pde.mu_dim:
    raise UserError(f"the model takes {n_mu_model} mu coordinates, {pde.name} has {pde.mu_dim}")
  return Observations(coords, u.reshape(want), tuple(obs.fields), obs.sigma)


def fit_mu(
  solver,
  obs: Observations,
  *,
  box,
  sigma: Optional[float] = None,
  n_starts: int = 21,
  steps: int = 30,
  fitter=None,
) -> Estimate:
  """mu from observations (``Observations``: values of some fields at points): LM from
  ``n_starts`` starts over ``box`` ((mu_dim, 2) lo, hi per coordinate; coordinates with lo == hi
  are held fixed), Laplace covariance at the best. sigma: the noise standard deviation (None:
  obs.sigma; None or 0: estimated from the fit; a given sigma below the fit's residual level is
  raised to it). fitter: a ``make_fitter`` result to reuse (one compilation for many solves).

  The estimate minimises ||u(x_i; mu) - u_i||^2 over the free coordinates of mu (LM through the
  Solver); its covariance is the Laplace approximation at the minimum,

      cov = sigma^2 (J^T J)^{-1},  J_ij = d u(x_i; mu) / d mu_j,

  and ci95 = mu_hat -/+ 1.96 sqrt(diag cov). It ignores the surrogate's own error; ``refine``
  accounts for it (``sandwich``)."""
  t0 = time.perf_counter()
  sigma = obs.sigma if sigma is None else sigma
  box = np.asarray(box, np.float64)
  free = tuple(int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0]))
  if not free:
    raise UserError("the box fixes every coordinate of mu: nothing to estimate")
  base = box[:, 0].copy()
  fitter = fitter or make_fitter(
    solver, free, base, box[list(free)], fields=obs.fields, steps=steps
  )
  coords = tuple(jnp.asarray(c, real()) for c in obs.coords)
  us = jnp.asarray(obs.u, real())
  scale = float(sigma) if sigma else 1.0  # None or 0 (noise-free data): no scaling
  # every start's result to the host at once (they are small): no eager device op per index
  theta, loss, jac, resid = jax.device_get(
    fitter(
      jnp.asarray(_grid(box[list(free)], n_starts), real()), coords, us, jnp.asarray(scale, real())
    )
  )
  best = int(np.argmin(loss))
  mu = base.copy()
  mu[list(free)] = np.asarray(theta[best], np.float64)
  jac = np.asarray(jac[best], np.float64)  # (n_obs k, n_free)
  u = np.asarray(obs.u, np.float64).reshape(-1)
  resid = np.asarray(resid[best], np.float64)
  cov, std, ci, s, rel = _laplace(mu, free, np.linalg.pinv(jac.T @ jac), resid, u, sigma)
  return Estimate(mu, free, cov, std, ci, s, rel, time.perf_counter() - t0)


def _laplace(mu, free, unit_cov, resid, u, sigma):
  """(cov, std, ci95, sigma used, data relative residual) from the covariance of mu[free] for
  noise 1 and the data residual (n_obs,): sigma is the larger of the given one and the fit's."""
  n, d = len(resid), len(free)
  s_fit = float(np.sqrt(resid @ resid / max(n - d, 1)))  # noise and model error together
  s = max(float(sigma), s_fit) if sigma else s_fit
  cov = s**2 * unit_cov
  std = np.sqrt(np.maximum(np.diag(cov), 0.0))
  ci = np.stack([mu[list(free)] - Z95 * std, mu[list(free)] + Z95 * std], 1)
  rel = float(np.linalg.norm(resid)) / max(float(np.linalg.norm(u)), 1e-30)
  return cov, std, ci, s, rel


# The LM of the joint refinement (lrpinn_jax.fit.lm.VARIANTS): with it the sandwich interval covers
# the truth in 95-99 of 100 trials on every coordinate of results/inverse (plain LM: CDR beta 100).
REFINE_LM = "lm_geodesic_pcg"


def make_refiner(
  solver,
  pde,
  free: Sequence[int],
  *,
  fields: Sequence[int] = (0,),
  steps: int = 100,
  data_weight: float = 1.0,
  need_xx: bool = False,
  lm_cfg: lm.LMConfig = lm.VARIANTS[REFINE_LM],
):
  """Returns refine(trainable, frozen, mu0 (mu_dim,), coords, u, points) -> (trainable,
  mu (mu_dim,), J (m, n) at the end, data residual (n_obs k,), the PDE and condition blocks'
  residuals (each scaled to its mean square; the PDE's first), the LM's last damping), jitted
  and stored (lrpinn_jax.io.programs): joint LM over the Phase-2 parameters and mu[free] (module
  docstring). One compilation serves every solve with the same shapes (rank mode "full" keeps
  them fixed)."""
  cfg = dataclasses.replace(solver.config, merge=False)
  free_idx = jnp.asarray(tuple(int(i) for i in free))
  fields = tuple(int(i) for i in fields)

  def run(trainable, frozen, mu0, coords, u, points):
    flat0, unravel = ravel_pytree(trainable)
    n_net = flat0.shape[0]

    def parts(theta):
      net, s = merge_net(unravel(theta[:n_net]), frozen)
      mu = mu0.at[free_idx].set(theta[n_net:])
      return point_fn(cfg, net, s, pde=pde, mu=mu), mu

    def misfit(th, *cu):
      return _select(parts(th)[0](*cu[:-1]), fields, cfg.n_out) - cu[-1]

    def rj(theta):
      blocks = [
        lm.block_rows(lambda th, *c, fn=fn: fn(*parts(th), *c), theta, cols)
        for _, fn, cols in pde.blocks(points, need_xx=need_xx)
      ]
      data, data_jac = lm.block_rows(misfit, theta, (*coords, u), mean=False)
      w = jnp.sqrt(data_weight / coords[0].shape[0])
      r = jnp.concatenate([b[0] for b in blocks] + [w * data])
      jac = jnp.concatenate([b[1] for b in blocks] + [w * data_jac])
      return r, jac, data, tuple(b[0] for b in blocks)

    theta0 = jnp.concatenate([flat0, mu0[free_idx]])
    theta, _, damping = lm.minimize(
      lambda th: rj(th)[:2], theta0, steps, lm_cfg=lm_cfg, with_damping=True
    )
    _, jac, data, pde_blocks = rj(theta)
    return unravel(theta[:n_net]), parts(theta)[1], jac, data, pde_blocks, damping

  key = _program_key(
    solver, tuple(int(i) for i in free), fields, steps, data_weight, need_xx, lm_cfg
  )
  return programs.stored(run, "inverse_refine", key)


def refine(
  solver,
  pde,
  obs: Observations,
  est: Estimate,
  *,
  sigma: Optional[float] = None,
  steps: int = 100,
  data_weight: float = 1.0,
  data: DataConfig = DataConfig(),
  seed: int = 0,
  refiner=None,
) -> Estimate:
  """Joint refinement of ``est`` (a ``fit_mu`` result): mu[est.free] and the Phase-2 parameters by
  LM on the PDE residual and the data misfit (module docstring), covariance of mu by
  ``sandwich``. Collocation points: ``data`` drawn with ``seed``.
  refiner: a ``make_refiner`` result to reuse (one compilation for many solves), built with the
  same ``data_weight`` and fields."""
  t0 = time.perf_counter()
  sigma = obs.sigma if sigma is None else sigma
  free = est.free
  need_xx = needs_full_residual(pde, est.mu_hat, free)
  refiner = refiner or make_refiner(
    solver, pde, free, fields=obs.fields, steps=steps, data_weight=data_weight, need_xx=need_xx
  )
  trainable, frozen, _ = split_params(solver.config, solver.params, est.mu_hat, "full")
  points = jax.tree.map(jnp.asarray, train_batch(pde, data, seed))
  coords = tuple(jnp.asarray(c, real()) for c in obs.coords)
  _, mu, jac, resid, blocks, _ = refiner(
    trainable, frozen, jnp.asarray(est.mu_hat, real()), coords, jnp.asarray(obs.u, real()), points
  )
  mu = np.asarray(mu, np.float64)
  cov, s, _ = sandwich(
    np.asarray(jac, np.float64),
    [np.asarray(b, np.float64) for b in blocks],
    np.asarray(resid, np.float64),
    len(free),
    data_weight,
    sigma,
  )
  std = np.sqrt(np.maximum(np.diag(cov), 0.0))
  ci = np.stack([mu[list(free)] - Z95 * std, mu[list(free)] + Z95 * std], 1)
  u = np.asarray(obs.u, np.float64).reshape(-1)
  rel = float(np.linalg.norm(resid)) / max(float(np.linalg.norm(u)), 1e-30)
  f_rms = float(np.linalg.norm(blocks[0]))  # block rows are scaled to mean squares
  return Estimate(mu, free, cov, std, ci, s, rel, time.perf_counter() - t0, f_rms)


def sandwich(
  jac: np.ndarray,
  blocks,
  data_resid: np.ndarray,
  d: int,
  data_weight: float,
  sigma: Optional[float],
  damping: Optional[float] = None,
):
  """Covariance of the refined mu (the last ``d`` unknowns): (cov (d, d), sigma used, p_eff).

  The refinement minimises ||r||^2 = sum_b ||r_b||^2 + (w / n) ||u_fit - u||^2 (make_refiner)
  with J = dr/dtheta (rows: the PDE and condition blocks, (m_b,) each scaled to a mean square,
  then the n data rows). A perturbation e of the residuals moves the estimate by -B J^T e, so
  its covariance is the sandwich
    cov = B M B,  M = sum_b (||r_b||^2 / m_b) J_b^T J_b + sigma^2 (w / n) J_d^T J_d
  with every block's entries taken as independent errors of the variance its own residual shows
  (||r_b||^2 is the block's mean square): the data rows with the noise level, the PDE and
  condition rows with what the refinement left of them, the measurable part of the surrogate's
  own error. sigma: the larger of the given one and sqrt(||u_fit - u||^2 / (n - p_eff)), where
  p_eff = tr(J_d B J_d^T) is the number of data values the network and mu absorb.

  The bread B (``bread``) is (J^T J)^+, the response at an exact optimum (the command's
  interval), or, given the LM's last ``damping`` lam, S (S J^T J S + lam I)^{-1} S (S the column
  scaling of lm.propose), the response of the damped step the refinement ends with. After 100
  steps the LM has not gone far along the directions the data and the PDE barely fix: on CDR
  the damped bread predicts the spread of the estimate over fresh noise and the undamped one is
  1.2-1.4 times too wide, which happens to cover the surrogate's bias that neither holds
  (results/inverse/README.md, "What the interval holds", with the measured calibration)."""
  n = data_resid.size
  m = sum(b.size for b in blocks)
  jac_d = jac[m:] / np.sqrt(data_weight / n)  # the data rows, unscaled: du/dtheta
  inv = bread(jac.T @ jac, damping)
  p_eff = float(data_weight / n * np.trace(jac_d @ inv @ jac_d.T))
  s_fit = float(np.sqrt(data_resid @ data_resid / max(n - p_eff, 1.0)))
  s = max(float(sigma), s_fit) if sigma else s_fit
  meat = s**2 * (data_weight / n) ** 2 * jac_d.T @ jac_d
  row = 0
  for b in blocks:
    meat += (b @ b / b.size) * jac[row : row + b.size].T @ jac[row : row + b.size]
    row += b.size
  return (inv @ meat @ inv)[-d:, -d:], s, p_eff


def bread(jtj: np.ndarray, damping: Optional[float] = None, diag_floor: float = 1e-6):
  """The bread of ``sandwich`` from J^T J (n, n): (J^T J)^+ without ``damping``; with it, the
  inverse of the damped normal matrix in lm.propose's column-scaled variables (the same floor),
  mapped back: S (S J^T J S + lam I)^{-1} S."""
  if damping is None:
    return np.linalg.pinv(jtj, rcond=1e-12, hermitian=True)
  col = np.sqrt(np.maximum(np.diag(jtj), 0.0))
  dead = col == 0
  scale = np.where(dead, 0.0, 1.0 / np.maximum(col, np.sqrt(diag_floor) * col.max()))
  a = scale[:, None] * jtj * scale[None, :] + np.diag(np.where(dead, 1.0, damping))
  return scale[:, None] * np.linalg.inv(a) * scale[None, :]


def needs_full_residual(pde, mu, free: Sequence[int]) -> bool:
  """Whether refinement needs the problem's full residual: some mu entry it drops where 0 is
  nonzero at ``mu`` or is being estimated (Problem.drop_zero)."""
  dropped = getattr(pde, "drop_zero", ())
  return bool(pde.needs_uxx(np.asarray(mu)[None])) or any(pde.mu_names[i] in dropped for i in free)


def synthetic(
  pde, mu_true, n_obs: int, noise: float, seed: int, fields: Sequence[int] = (0,)
) -> Observations:
  """Observations of the reference solution at mu_true: the ``fields`` at n_obs points uniform
  in the domain, plus Gaussian noise of standard deviation noise * RMS (over those fields)."""
  rng = np.random.default_rng([seed, 7])
  coords = tuple(rng.uniform(lo, hi, n_obs) for lo, hi in pde.domain)
  clean = pde.reference(*coords, np.asarray(mu_true, np.float64))
  fields = tuple(int(i) for i in fields)
  if clean.ndim == 2:
    clean = clean[:, list(fields)]
    clean = clean[:, 0] if len(fields) == 1 else clean
  sigma = float(noise * np.sqrt(np.mean(clean**2)))
  return Observations(coords, clean + sigma * rng.standard_normal(clean.shape), fields, sigma)
