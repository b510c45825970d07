"""Interval variants of the refined inverse estimate, compared on the same trials.

  python -m benchmarks.intervals --checkpoint=results/convection_30_40 --true_range=30.5,39.5 \
      --noise=0.05 --trials=40 [--seed=1000] [--out=FILE]

For each trial (seeds --seed ..; true mu uniform in --true_range, --n_obs noisy observations as
experiments.inverse draws them) one refinement (lrpinn_jax.query.inverse.make_refiner) and six
covariances of mu from its Jacobian J, residual blocks and last LM damping:
  laplace         the Laplace posterior with the PDE rows on the data's scale: s^2 (w/n) (J^T J)^+
  sandwich_data   the sampling covariance under data noise only: (J^T J)^+ M_d (J^T J)^+
  sandwich        the same with every PDE and condition block perturbed by its own residual's
                  variance, bread (J^T J)^+ (inverse.sandwich: the command's interval)
  sandwich_damped the same with the damped bread of the refinement's last LM step
                  (inverse.sandwich given that damping)
  pde_as_data     the PDE rows as a likelihood with their residual's variance (the weight a
                  marginal-likelihood choice gives them): (H_pde + H_data)^+
  damped_systematic  sandwich_damped plus, per PDE and condition block b, the outer product of
                  the shift B J_b^T r_b its whole residual r_b would cause (B the damped bread):
                  the residual left as a fully correlated error rather than independent noise
With --draws=K it measures instead how the refined estimate answers to the noise alone: per trial
(the same true mu and observation points) K fresh noise draws, each solved by the command's
two stages, and the spread of the K estimates ("empirical_sd", ddof 1) against the mean std of
the sandwich with either bread ("predicted_std": {"sandwich", "sandwich_damped"}; "ratio":
empirical_sd over each, 1 when the interval's noise part is right) and their mean error
("mean_err", the part of the error the noise does not explain). --refine_steps sets the
refinement's LM steps (the command's 100) and --refine_lm its LM variant (the command's
inverse.REFINE_LM).
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
from lrpinn_jax.fit.train import LM_OPTIMIZERS
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
_DRAWS = flags.DEFINE_integer(
  "draws", 0, "> 1: noise draws per trial (module docstring)", lower_bound=0
)
_REFINE_STEPS = flags.DEFINE_integer(
  "refine_steps", 100, "LM steps of the refinement", lower_bound=1
)
_REFINE_LM = flags.DEFINE_enum(
  "refine_lm", inverse.REFINE_LM, list(LM_OPTIMIZERS), "LM variant of the refinement"
)


def block_shares(jac, blocks, data_resid, d, sigma):
  """{block: (d,) share of the command's sandwich variance of mu} ("data", then "block0", ...):
  the terms of M in inverse.sandwich, each through (J^T J)^+, over their sum."""
  n = data_resid.size
  m = sum(b.size for b in blocks)
  inv = inverse.bread(jac.T @ jac)
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


def variants(jac, blocks, data_resid, d, s, sigma, damping):
  """{name: (d,) std of mu} from one refinement (module docstring); data weight 1. s: the noise
  level the Laplace interval uses; sigma: the stated one (the command's sandwich takes it);
  damping: the refinement's last LM damping."""
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
    "sandwich_damped": inverse.sandwich(jac, blocks, data_resid, d, 1.0, sigma, damping)[0],
    "pde_as_data": np.linalg.pinv(h, rcond=1e-12, hermitian=True),
  }
  b_damped = inverse.bread(jac.T @ jac, damping)
  row, shifts = 0, []
  for b in blocks:
    shifts.append(b_damped @ (jac[row : row + b.size].T @ b))
    row += b.size
  cov["damped_systematic"] = cov["sandwich_damped"] + sum(np.outer(v, v) for v in shifts)[-d:, -d:]
  return {k: np.sqrt(np.maximum(np.diag(c[-d:, -d:]), 0.0)) for k, c in cov.items()}


def main(argv):
  del argv
  if _DRAWS.value == 1:
    raise app.UsageError("--draws: 0, or at least 2 (a spread needs two estimates)")
  logging.set_verbosity(logging.FATAL)  # orbax's restore lines
  cache.enable()
  solver = load_phase1(_CKPT.value)
  pde = pde_of(solver)
  box = training_box(_CKPT.value, solver.config.mu_dim)
  free = [int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0])]
  lo, hi = (float(v) for v in _RANGE.value.split(","))
  fitter = inverse.make_fitter(solver, free, box[:, 0], box[free])
  need_xx = inverse.needs_full_residual(pde, box[:, 1], free)
  refiner = inverse.make_refiner(
    solver,
    pde,
    free,
    steps=_REFINE_STEPS.value,
    need_xx=need_xx,
    lm_cfg=LM_OPTIMIZERS[_REFINE_LM.value],
  )
  if _DRAWS.value:
    startup.report(noise_response(solver, pde, box, free, fitter, refiner, lo, hi), _OUT.value)
    return
  points = jax.tree.map(jnp.asarray, train_batch(pde, DataConfig(), 0))
  z, shares = {}, {}
  for k in range(_TRIALS.value):
    seed = _SEED.value + k
    mu_true = box[:, 0].copy()
    mu_true[free] = np.random.default_rng([seed, 11]).uniform(lo, hi, len(free))
    obs = inverse.synthetic(pde, mu_true, _N_OBS.value, _NOISE.value, seed)
    mu, jac, resid, blocks, damping = _refine(solver, obs, box, fitter, refiner, points)
    s = max(obs.sigma, float(np.sqrt(resid @ resid / max(len(resid) - len(free), 1))))
    err = mu[free] - mu_true[free]
    for name, std in variants(jac, blocks, resid, len(free), s, obs.sigma, damping).items():
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
      "refine_steps": _REFINE_STEPS.value,
      "refine_lm": _REFINE_LM.value,
      "variants": out,
      "sandwich_variance_share": {k: np.mean(v, 0).round(3).tolist() for k, v in shares.items()},
    },
    _OUT.value,
  )


def noise_response(solver, pde, box, free, fitter, refiner, lo, hi) -> dict:
  """--draws: per trial, the spread of the refined mu over fresh noise draws at fixed true mu
  and observation points, against the sandwich std with either bread (module docstring)."""
  points = jax.tree.map(jnp.asarray, train_batch(pde, DataConfig(), 0))
  names = ("sandwich", "sandwich_damped")
  rows = []
  for k in range(_TRIALS.value):
    seed = _SEED.value + k
    mu_true = box[:, 0].copy()
    mu_true[free] = np.random.default_rng([seed, 11]).uniform(lo, hi, len(free))
    clean = inverse.synthetic(pde, mu_true, _N_OBS.value, 0.0, seed)
    sigma = _NOISE.value * float(np.sqrt(np.mean(np.square(clean.u))))
    rng = np.random.default_rng([seed, 13])
    est, std = [], {name: [] for name in names}
    for _ in range(_DRAWS.value):
      u = clean.u + sigma * rng.standard_normal(clean.u.shape)
      obs = inverse.Observations(clean.coords, u, clean.fields, sigma)
      mu, jac, resid, blocks, damping = _refine(solver, obs, box, fitter, refiner, points)
      est.append(mu[free])
      for name, lam in zip(names, (None, damping)):
        cov = inverse.sandwich(jac, blocks, resid, len(free), 1.0, sigma, lam)[0]
        std[name].append(np.sqrt(np.diag(cov)))
    est = np.array(est)
    sd = est.std(0, ddof=1)
    pred = {name: np.mean(v, 0) for name, v in std.items()}
    row = {
      "seed": seed,
      "mu_true": mu_true[free].tolist(),
      "mean_err": (est.mean(0) - mu_true[free]).round(5).tolist(),
      "empirical_sd": sd.round(5).tolist(),
      "predicted_std": {name: v.round(5).tolist() for name, v in pred.items()},
      "ratio": {name: (sd / v).round(3).tolist() for name, v in pred.items()},
    }
    print(f"[intervals] seed {seed}: {row}", flush=True)
    rows.append(row)
  return {
    "checkpoint": _CKPT.value,
    "noise": _NOISE.value,
    "draws": _DRAWS.value,
    "refine_steps": _REFINE_STEPS.value,
    "refine_lm": _REFINE_LM.value,
    "mean_ratio_empirical_sd_over_predicted_std": {
      name: np.mean([r["ratio"][name] for r in rows], 0).round(3).tolist() for name in names
    },
    "trials": rows,
  }


def _refine(solver, obs, box, fitter, refiner, points):
  """The command's two stages on obs: (mu (mu_dim,), J, data residual, blocks, last damping) of
  the refinement, float64 on the host."""
  est = inverse.fit_mu(solver, obs, box=box, fitter=fitter)
  trainable, frozen, _ = split_params(solver.config, solver.params, est.mu_hat, "full")
  _, mu, jac, resid, blocks, damping = refiner(
    trainable,
    frozen,
    jnp.asarray(est.mu_hat, jnp.float32),
    tuple(jnp.asarray(c, jnp.float32) for c in obs.coords),
    jnp.asarray(obs.u, jnp.float32),
    points,
  )
  f64 = lambda a: np.asarray(a, np.float64)
  return f64(mu), f64(jac), f64(resid), [f64(b) for b in blocks], float(damping)


if __name__ == "__main__":
  app.run(main)
