"""Inverse problem: estimate mu from observations of u with a trained Phase-1 model.

  python -m experiments.inverse --checkpoint=DIR --observations=obs.npz --out=DIR
  python -m experiments.inverse --checkpoint=DIR --synthetic=35.2,0,0 --n_obs=100 --noise=0.01 \
      --seed=S --out=DIR
  python -m experiments.inverse --checkpoint=DIR --trials=20 --true_range=30.5,39.5 --out=DIR

obs.npz holds one 1-D array per coordinate, named as in the problem (x, t for the CDR family; x, y
for Kovasznay), one array of the same length per observed field (u; or u and v...), and optionally
sigma (the noise standard deviation). --synthetic draws --n_obs points uniformly in the domain
from the reference solution at that mu (the fields of --fields, default all), with Gaussian
noise of standard deviation --noise x RMS of the observed values. --trials runs seeds --seed ..
--seed + N - 1, each with every estimated coordinate drawn uniformly from --true_range.
Only the coordinates of mu that vary over the model's training grid are estimated (convection:
beta; the CDR models: beta, nu, rho), within that grid's box. --refine_steps=K > 0 then refines
jointly (mu and the Phase-2 parameters, PDE residual plus data misfit;
lrpinn_jax.query.inverse.refine), which removes most of the surrogate's own error from the
estimate and its interval.
Writes inverse.json or trials.json, and inverse.png (data, fit, misfit along each coordinate).
inverse.json: the command's answer at the top (mu_hat, std, ci95, sigma, seconds,
data_rel_residual, mu_true and abs_err with --synthetic), "answer" saying which estimate that is
("refined" with --refine_steps > 0, else "mu_only"), and both estimates under "mu_only" and
"refined". trials.json: "summary" and "trials" of the answer, and the same for each estimate under
"mu_only" and "refined".
"""

from __future__ import annotations

import os
from statistics import NormalDist

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.fit.train import LM_OPTIMIZERS
from lrpinn_jax.io import programs
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.precision import real
from lrpinn_jax.query import inverse

from . import _cli

flags.DEFINE_string(
  "checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True
)
flags.DEFINE_string(
  "observations",
  None,
  "npz with one array per coordinate and per observed "
  "field, named as in the problem (and optionally sigma)",
)
flags.DEFINE_string(
  "fields", None, "--synthetic / --trials: the observed fields 'u,v' (default: every field)"
)
flags.DEFINE_string(
  "synthetic", None, "true mu 'beta,nu,rho': draw observations from the reference solution"
)
flags.DEFINE_integer(
  "trials", 0, "synthetic trials with random true mu (0: one fit)", lower_bound=0
)
flags.DEFINE_string(
  "true_range",
  "30.5,39.5",
  "--trials: range 'lo,hi' of every true estimated "
  "coordinate, or 'box': each one in the middle 90% of its training range",
)
flags.DEFINE_integer("n_obs", 100, "synthetic observations", lower_bound=1)
flags.DEFINE_float("noise", 0.01, "synthetic noise, relative to the RMS of u", lower_bound=0.0)
flags.DEFINE_integer("seed", 0, "seed of the synthetic observations", lower_bound=0)
flags.DEFINE_integer("n_starts", 21, "LM starts spread over the training box", lower_bound=1)
flags.DEFINE_integer("steps", 30, "LM steps from each start", lower_bound=1)
flags.DEFINE_integer(
  "refine_steps",
  100,
  "joint refinement LM steps (0: mu only, through the Phase-1 Solver)",
  lower_bound=0,
)
flags.DEFINE_enum(
  "refine_lm",
  inverse.REFINE_LM,
  list(LM_OPTIMIZERS),
  "LM variant of the joint refinement (lrpinn_jax.fit.lm.VARIANTS)",
)
flags.DEFINE_string("out", "runs/inverse", "output folder")
FLAGS = flags.FLAGS


def _load_obs(path: str, pde):
  """Observations from an npz: the problem's coordinates by name, the fields it holds."""
  try:
    with np.load(path) as f:
      missing = [k for k in pde.coord_names if k not in f.files]
      fields = [i for i, name in enumerate(pde.fields) if name in f.files]
      if missing or not fields:
        raise UserError(
          f"{path}: needs one array per coordinate {','.join(pde.coord_names)} and "
          f"at least one field of {','.join(pde.fields)}; missing "
          f"{','.join(missing) or 'every field'}"
        )
      sigma = float(f["sigma"]) if "sigma" in f.files else None
      coords = tuple(f[k] for k in pde.coord_names)
      u = np.stack([f[pde.fields[i]] for i in fields], -1)
      return inverse.Observations(
        coords, u[..., 0] if len(fields) == 1 else u, tuple(fields), sigma
      )
  except (OSError, ValueError) as e:
    raise UserError(f"cannot read {path} as npz ({e})") from None


def _observed_fields(pde) -> tuple:
  if FLAGS.fields is None:
    return tuple(range(len(pde.fields)))
  names = [v.strip() for v in FLAGS.fields.split(",") if v.strip()]
  bad = [v for v in names if v not in pde.fields]
  if bad or not names or len(set(names)) != len(names):
    raise UserError(f"--fields: distinct names of {','.join(pde.fields)}, got {FLAGS.fields!r}")
  return tuple(pde.fields.index(v) for v in names)


def _plot(out, solver, obs, est, box, mu_true, names):
  import jax
  import jax.numpy as jnp
  from matplotlib.figure import Figure  # no pyplot: its import is most of the figure's time

  free = list(est.free)
  width = 5 * (1 + len(free))
  fig = Figure(figsize=(width, 4))
  axes = fig.subplots(1, 1 + len(free))
  # fixed margins (inches over the width): tight_layout measured 0.4-0.7 s of a 6 s command
  fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.13, top=0.92, wspace=0.3)
  # The fit and the misfit along each coordinate (201 mu per coordinate): one vmapped call of a
  # stored program (lrpinn_jax.io.programs), not one call per mu.
  n_out = inverse._n_out(solver)
  values = programs.stored(
    jax.vmap(lambda sol, mu, cs: inverse._select(sol(*cs, mu), obs.fields, n_out).ravel(),
             in_axes=(None, 0, None)),
    "inverse_figure",
    inverse._program_key(solver, tuple(obs.fields)),
  )  # fmt: skip
  grids = {i: np.linspace(box[i, 0], box[i, 1], 201) for i in free}
  mus = [est.mu_hat[None]]
  for i, grid in grids.items():
    mus.append(np.repeat(est.mu_hat[None], len(grid), 0))
    mus[-1][:, i] = grid
  u = np.asarray(obs.u).ravel()
  pred = np.asarray(values(solver, jnp.asarray(np.concatenate(mus), real()), _obs_coords(obs)))
  fit, misfit = pred[0], np.sum((pred[1:] - u) ** 2, axis=1).reshape(len(free), -1)
  axes[0].scatter(u, fit, s=8)
  lim = [min(u.min(), fit.min()), max(u.max(), fit.max())]
  axes[0].plot(lim, lim, "k--", lw=1)
  axes[0].set(xlabel="observed", ylabel="fitted", title="data and fit")
  for ax, i, mis in zip(axes[1:], free, misfit):
    ax.semilogy(grids[i], mis)
    ax.axvline(est.mu_hat[i], color="C1", label="estimate")
    if mu_true is not None:
      ax.axvline(mu_true[i], color="k", ls="--", label="true")
    ax.set(xlabel=names[i], ylabel="sum of squared misfits", title=f"misfit along {names[i]}")
    ax.legend()
  _cli.save_png(fig, os.path.join(out, "inverse.png"), 120)


def _obs_coords(obs) -> tuple:
  """The observations' coordinates as arrays of the working float type."""
  import jax.numpy as jnp

  return tuple(jnp.asarray(c, real()) for c in obs.coords)


def _row(est, mu_true=None) -> dict:
  row = {
    "mu_hat": est.mu_hat.tolist(),
    "free": list(est.free),
    "std": est.std.tolist(),
    "ci95": est.ci95.tolist(),
    "sigma": est.sigma,
    "seconds": est.seconds,
    "data_rel_residual": est.data_rel_residual,
  }
  if est.pde_residual_rms is not None:
    row["pde_residual_rms"] = est.pde_residual_rms
  if mu_true is not None:
    err = [abs(est.mu_hat[i] - mu_true[i]) for i in est.free]
    row.update(
      {
        "mu_true": list(map(float, mu_true)),
        "abs_err": err,
        "rel_err": [e / max(abs(mu_true[i]), 1e-30) for e, i in zip(err, est.free)],
        "covered": [bool(lo <= mu_true[i] <= hi) for i, (lo, hi) in zip(est.free, est.ci95)],
      }
    )
  return row


COVERAGE_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)  # nominal levels of the calibration check


def _summary(rows) -> dict:
  """Per estimated coordinate: largest error, trials within 0.05 absolute and 2% and 5%
  relative, and intervals covering the truth; "all_within_5pct": trials with every coordinate
  within 5%; "coverage": for each nominal level p, the fraction of trials whose central
  interval mu_hat -/+ z_p std (normal quantile) covers the truth."""
  err = np.array([r["abs_err"] for r in rows])  # (trials, n_free)
  rel = np.array([r["rel_err"] for r in rows])
  cov = np.array([r["covered"] for r in rows])
  z = err / np.maximum(np.array([r["std"] for r in rows]), 1e-300)
  secs = [r["seconds"] for r in rows[1:]]
  coverage = {
    f"{p:g}": np.mean(z <= NormalDist().inv_cdf(0.5 + p / 2), 0).tolist() for p in COVERAGE_LEVELS
  }
  return {
    "trials": len(rows),
    "max_abs_err": err.max(0).tolist(),
    "coverage": coverage,
    "within_0.05": np.sum(err <= 0.05, 0).tolist(),
    "within_2pct": np.sum(rel <= 0.02, 0).tolist(),
    "within_5pct": np.sum(rel <= 0.05, 0).tolist(),
    "all_within_5pct": int(np.sum(np.all(rel <= 0.05, 1))),
    "ci95_covers": np.sum(cov, 0).tolist(),
    "seconds_per_solve_after_first": float(np.median(secs)) if secs else None,
  }


def main(argv):
  del argv
  if sum(map(bool, (FLAGS.observations, FLAGS.synthetic, FLAGS.trials))) != 1:
    raise UserError("give exactly one of --observations, --synthetic, --trials")
  with _cli.timed("restore"):
    solver = load_phase1(FLAGS.checkpoint)
    pde = pde_of(solver)
    box = training_box(FLAGS.checkpoint, solver.config.mu_dim)
  free = [int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0])]
  if FLAGS.observations:
    obs = inverse.check_observations(pde, _load_obs(FLAGS.observations, pde), solver.config.mu_dim)
    fields = obs.fields
  else:
    fields = _observed_fields(pde)
  fitter = inverse.make_fitter(solver, free, box[:, 0], box[free], fields=fields, steps=FLAGS.steps)
  need_xx = inverse.needs_full_residual(pde, box[:, 1], free)
  refiner = (
    inverse.make_refiner(
      solver,
      pde,
      free,
      fields=fields,
      steps=FLAGS.refine_steps,
      need_xx=need_xx,
      lm_cfg=LM_OPTIMIZERS[FLAGS.refine_lm],
    )
    if FLAGS.refine_steps
    else None
  )

  def fit(obs):
    est = inverse.fit_mu(solver, obs, box=box, n_starts=FLAGS.n_starts, fitter=fitter)
    joint = inverse.refine(solver, pde, obs, est, refiner=refiner) if refiner else None
    return est, joint

  if FLAGS.trials:
    if FLAGS.true_range == "box":  # per coordinate: parameters of different scales
      margin = 0.05 * (box[free, 1] - box[free, 0])
      lo, hi = box[free, 0] + margin, box[free, 1] - margin
      size = None
    else:
      lo, hi = _cli.parse_range("true_range", FLAGS.true_range)
      size = len(free)
    rows, refined = [], []
    for k in range(FLAGS.trials):
      seed = FLAGS.seed + k
      mu_true = box[:, 0].copy()
      mu_true[free] = np.random.default_rng([seed, 11]).uniform(lo, hi, size)
      est, joint = fit(inverse.synthetic(pde, mu_true, FLAGS.n_obs, FLAGS.noise, seed, fields))
      rows.append({"seed": seed, **_row(est, mu_true)})
      msg = (
        f"[inverse] seed {seed}: true {np.round(mu_true[free], 4).tolist()} estimate "
        f"{np.round(est.mu_hat[free], 4).tolist()} +- {np.round(est.std, 4).tolist()} "
        f"({est.seconds:.2f} s)"
      )
      if joint is not None:
        refined.append({"seed": seed, **_row(joint, mu_true)})
        msg += (
          f"; refined {np.round(joint.mu_hat[free], 4).tolist()} +- "
          f"{np.round(joint.std, 4).tolist()} ({joint.seconds:.2f} s)"
        )
      print(msg)
    parts = {"mu_only": {"summary": _summary(rows), "trials": rows}}
    if refined:
      parts["refined"] = {"summary": _summary(refined), "trials": refined}
    answer = "refined" if refined else "mu_only"
    out = {
      "checkpoint": FLAGS.checkpoint,
      "n_obs": FLAGS.n_obs,
      "noise": FLAGS.noise,
      "fields": [pde.fields[i] for i in fields],
      "mu_names": [pde.mu_names[i] for i in free],
      "true_range": np.stack([lo, hi], -1).tolist() if size is None else [lo, hi],
      "refine_steps": FLAGS.refine_steps,
      "refine_lm": FLAGS.refine_lm,
      "answer": answer,
      **parts[answer],
      **parts,
    }
    write_json_atomic(os.path.join(FLAGS.out, "trials.json"), out, indent=None)
    print(f"[inverse] mu only: {parts['mu_only']['summary']}")
    if refined:
      print(f"[inverse] refined: {parts['refined']['summary']}")
    print(f"[inverse] wrote {os.path.join(FLAGS.out, 'trials.json')}")
    return
  mu_true = None
  if FLAGS.synthetic:
    mu_true = np.asarray(_cli.parse_floats("synthetic", FLAGS.synthetic), np.float64)
    if mu_true.shape != (pde.mu_dim,):
      raise UserError(f"--synthetic needs {pde.mu_dim} numbers {','.join(pde.mu_names)}")
    obs = inverse.synthetic(pde, mu_true, FLAGS.n_obs, FLAGS.noise, FLAGS.seed, fields)
  with _cli.timed("solve"):
    est, joint = fit(obs)
  with _cli.timed("write"):
    _write_one(obs, est, joint, mu_true, solver, box, pde)


def _write_one(obs, est, joint, mu_true, solver, box, pde):
  """inverse.json, inverse.png and the printed estimates of one fit."""
  parts = {"mu_only": _row(est, mu_true)}
  if joint is not None:
    parts["refined"] = _row(joint, mu_true)
  answer = "refined" if joint is not None else "mu_only"
  write_json_atomic(
    os.path.join(FLAGS.out, "inverse.json"),
    {
      "checkpoint": FLAGS.checkpoint,
      "n_obs": len(obs.coords[0]),
      "fields": [pde.fields[i] for i in obs.fields],
      "answer": answer,
      **parts[answer],
      **parts,
    },
  )
  try:
    import matplotlib  # noqa: F401  (optional: pip install '.[plots]')
  except ImportError:
    print("[plot] matplotlib is not installed: no figure (pip install '.[plots]')")
  else:
    _plot(FLAGS.out, solver, obs, est, box, mu_true, pde.mu_names)
  for name, e in (("mu only", est), ("refined", joint)):
    if e is not None:
      print(
        f"[inverse] {name}: mu_hat {np.round(e.mu_hat, 5).tolist()}  std "
        f"{np.round(e.std, 5).tolist()}  ci95 {np.round(e.ci95, 4).tolist()}  data rel "
        f"residual {e.data_rel_residual:.4f}  {e.seconds:.2f} s"
      )
  print(f"[inverse] wrote {FLAGS.out}")


if __name__ == "__main__":
  _cli.run_main(main)
