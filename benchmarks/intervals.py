"""Interval variants of the refined inverse estimate, compared on the same trials.

  python -m benchmarks.intervals --checkpoint=results/convection_30_40 --true_range=30.5,39.5 \
      --noise=0.05 --trials=40 [--seed=1000] [--out=FILE]

For each trial (seeds --seed ..; true mu uniform in --true_range, --n_obs noisy observations as
experiments.inverse draws them) one refinement (lrpinn_jax.query.inverse.make_refiner) and four
covariances of mu from its Jacobian J and residual blocks:
  laplace       the Laplace posterior with the PDE rows on the data's scale: s^2 (w/n) (J^T J)^+
  sandwich_data the sampling covariance under data noise only: (J^T J)^+ M_d (J^T J)^+
  sandwich      the same with every PDE and condition block perturbed by its own residual's
                variance (inverse.sandwich, the command's interval)
  pde_as_data   the PDE rows as a likelihood with their residual's variance (the weight a
                marginal-likelihood choice gives them): (H_pde + H_data)^+
Prints per variant the fraction of trials whose 95% interval covers the truth, the RMS of
error / std (1 when calibrated) and the mean of the signed error / std (a bias, 0 when the
errors are centred); and, for the sandwich, the mean share of each coordinate's variance that
each block brings ("data" and the PDE and condition blocks in the problem's order). Seeds other
than the 100 trials of results/inverse/calibration (0..99) choose the variant; those trials
measure it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from benchmarks import startup
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.fit.phase2 import split_params
from lrpinn_jax.io import cache
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.query import inverse

_CKPT = flags.DEFINE_string("checkpoint", "results/convection_30_40", "Phase-1 model")
_RANGE = flags.DEFINE_string("true_range", "30.5,39.5", "range 'lo,hi' of every true coordinate")
_N_OBS = flags.DEFINE_integer("n_obs", 100, "observations per trial")
_NOISE = flags.DEFINE_float("noise", 0.01, "noise relative to the RMS of u")
_TRIALS = flags.DEFINE_integer("trials", 40, "trials")
_SEED = flags.DEFINE_integer("seed", 1000, "first seed")
_OUT = flags.DEFINE_string("out", None, "also write the JSON object to this file")


def block_shares(jac, blocks, data_resid, d, sigma):
  """{block: (d,) share of the sandwich variance of mu} ("data", then "block0", ...): the terms
  of M in inverse.sandwich, each through (J^T J)^+, over their sum."""
  n = data_resid.size
  m = sum(b.size for b in blocks)
  inv = np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True)
  s = inverse.sandwich(jac, blocks, data_resid, d, 1.0, sigma)[1]
  jac_d = jac[m:] * np.sqrt(n)
  terms = {"data": s**2 / n**2 * jac_d.T @ jac_d}
  row = 0
  for i, b in enumerate(blocks):
    rows = jac[row : row + b.size]
    terms[f"block{i}"] = (b @ b / b.size) * rows.T @ rows
    row += b.size
  var = {k: np.diag(inv @ t @ inv)[-d:] for k, t in terms.items()}
  total = sum(var.values())
  return {k: v / total for k, v in var.items()}


def variants(jac, blocks, data_resid, d, s, sigma):
  """{name: (d,) std of mu} from one refinement (module docstring); data weight 1. s: the noise
  level the Laplace interval uses; sigma: the stated one (the command's sandwich takes it)."""
  n = data_resid.size
  m = sum(b.size for b in blocks)
  h = (jac[m:] * np.sqrt(n)).T @ (jac[m:] * np.sqrt(n)) / s**2  # the data rows, unscaled
  row = 0
  for b in blocks:
    rows = jac[row : row + b.size]
    h += b.size * rows.T @ rows / max(float(b @ b), 1e-30)
    row += b.size
  quiet = [np.zeros_like(b) for b in blocks]  # blocks without variance: data noise only
  cov = {
    "laplace": s**2 / n * np.linalg.pinv(jac.T @ jac, rcond=1e-12, hermitian=True),
    "sandwich_data": inverse.sandwich(jac, quiet, data_resid, d, 1.0, sigma)[0],
    "sandwich": inverse.sandwich(jac, blocks, data_resid, d, 1.0, sigma)[0],
    "pde_as_data": np.linalg.pinv(h, rcond=1e-12, hermitian=True),
  }
  return {k: np.sqrt(np.maximum(np.diag(c[-d:, -d:]), 0.0)) for k, c in cov.items()}


def main(argv):
  del argv
  logging.set_verbosity(logging.FATAL)  # orbax's restore lines
  cache.enable()
  solver = load_phase1(_CKPT.value)
  pde = pde_of(solver)
  box = training_box(_CKPT.value, solver.config.mu_dim)
  free = [int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0])]
  lo, hi = (float(v) for v in _RANGE.value.split(","))
  fitter = inverse.make_fitter(solver, free, box[:, 0], box[free])
  need_xx = inverse.needs_full_residual(pde, box[:, 1], free)
  refiner = inverse.make_refiner(solver, pde, free, need_xx=need_xx)
  points = jax.tree.map(jnp.asarray, train_batch(pde, DataConfig(), 0))
  z, shares = {}, {}
  for k in range(_TRIALS.value):
    seed = _SEED.value + k
    mu_true = box[:, 0].copy()
    mu_true[free] = np.random.default_rng([seed, 11]).uniform(lo, hi, len(free))
    obs = inverse.synthetic(pde, mu_true, _N_OBS.value, _NOISE.value, seed)
    est = inverse.fit_mu(solver, obs, box=box, fitter=fitter)
    trainable, frozen, _ = split_params(solver.config, solver.params, est.mu_hat, "full")
    coords = tuple(jnp.asarray(c, jnp.float32) for c in obs.coords)
    _, mu, jac, resid, blocks = refiner(
      trainable,
      frozen,
      jnp.asarray(est.mu_hat, jnp.float32),
      coords,
      jnp.asarray(obs.u, jnp.float32),
      points,
    )
    resid = np.asarray(resid, np.float64)
    s = max(obs.sigma, float(np.sqrt(resid @ resid / max(len(resid) - len(free), 1))))
    err = np.asarray(mu, np.float64)[free] - mu_true[free]
    jac = np.asarray(jac, np.float64)
    blocks = [np.asarray(b, np.float64) for b in blocks]
    for name, std in variants(jac, blocks, resid, len(free), s, obs.sigma).items():
      z.setdefault(name, []).append(err / std)
    for name, share in block_shares(jac, blocks, resid, len(free), obs.sigma).items():
      shares.setdefault(name, []).append(share)
  out = {
    name: {
      "covered_95": np.mean(np.abs(v) <= 1.96, 0).round(3).tolist(),
      "rms_err_over_std": np.sqrt(np.mean(np.array(v) ** 2, 0)).round(3).tolist(),
      "mean_err_over_std": np.mean(v, 0).round(3).tolist(),
    }
    for name, v in z.items()
  }
  startup.report(
    {
      "checkpoint": _CKPT.value,
      "noise": _NOISE.value,
      "trials": _TRIALS.value,
      "first_seed": _SEED.value,
      "variants": out,
      "sandwich_variance_share": {k: np.mean(v, 0).round(3).tolist() for k, v in shares.items()},
    },
    _OUT.value,
  )


if __name__ == "__main__":
  app.run(main)
