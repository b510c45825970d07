"""Figures as PNG (paper Figs. 2-5) from runs on disk.

  python -m experiments.plots --workdir=<phase-1 workdir> [--finetune=<finetune dir>] \
      [--many_query=<many_query.json>] [--out=<folder>]

fig2_solution_beta<B>.png  exact / predicted / |error| over (x, t) (the fine-tuned model if
                           --finetune is given, else the Phase-1 model zero-shot); with
                           --mu=a,b (any problem of two coordinates): fig2_solution_mu<a>_<b>.png
fig3_phase1_curves.png     Phase-1 loss and mean test error over the steps (phase1_history.jsonl)
fig4_ranks.png             ranks per layer vs beta, and sorted |s_2(beta)| as a heat map (CDR)
fig_flow_mu*.png           a flow (fields u, v over x, y): vorticity and velocity, exact beside
                           predicted, at the last time, and the velocity error
fig5_many_query.png        zero-shot and Phase-2 errors and trainable parameters vs beta
fig_calibration.png        nominal against observed coverage of the inverse problem's intervals
                           (--calibration=<trials.json>,<trials.json>,...: experiments.inverse
                           --trials runs; one line per run and estimated coordinate)
fig6_steps_to_target.png   steps and seconds each beta needs to reach mean |error| 0.05, one line
                           per method (--steps_to=<compare.json>,...: experiments.compare runs;
                           a method that never reached it is drawn at the top, hollow)
fig_families.png           mean and worst error per CDR sub-family, zero-shot and after Phase 2
                           (--families=<results.json> with "summary_by_family", e.g. of
                           experiments.cdr --mu_set=cdr_family_1_5)
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.finetune import load_phase1
from lrpinn_jax.fit.train import HISTORY_FILE
from lrpinn_jax.io import checkpoint
from lrpinn_jax.pdes.registry import pde_of

from . import _cli

flags.DEFINE_string("workdir", None, "Phase-1 experiment workdir, or an official .npz")
flags.DEFINE_string("finetune", None, "finetune output folder (for Fig. 2)")
flags.DEFINE_string("many_query", None, "many_query.json (for Fig. 5)")
flags.DEFINE_string(
  "calibration",
  None,
  "comma-separated trials.json of experiments.inverse --trials runs (the calibration figure)",
)
flags.DEFINE_string(
  "steps_to", None, "comma-separated compare.json of experiments.compare runs (Fig. 6)"
)
flags.DEFINE_string("families", None, "results.json with a summary per CDR sub-family")
flags.DEFINE_string(
  "out", None, "folder for the PNGs (default: --workdir, or the folder of --many_query)"
)
flags.DEFINE_float("beta", 40.0, "beta of the solution snapshot (CDR family)")
flags.DEFINE_string(
  "mu",
  None,
  "mu of the solution snapshot, one number per parameter of the model's problem (replaces --beta)",
)
flags.DEFINE_string("beta_range", "20,50", "beta range of Fig. 4")
FLAGS = flags.FLAGS


def _plt():
  try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
  except ImportError:
    raise UserError("plots need matplotlib: pip install '.[plots]'") from None


def fig_solution(plt, solver, mu, title, path):
  """Exact, predicted and |error| on a grid of the problem's first two coordinates (the others
  at the end of their boxes, e.g. the last time): one row per field (fields the problem calls
  mean-free compared after removing their means)."""
  pde = pde_of(solver)
  (x_lo, x_hi), (t_lo, t_hi), *rest = pde.domain
  xn, tn, *rest_names = pde.coord_names
  nx, nt = (256, 100) if not rest else (128, 128)
  x = np.linspace(x_lo, x_hi, nx)
  t = np.linspace(t_lo, t_hi, nt)
  xx, tt = np.meshgrid(x, t)
  others = [np.full_like(xx, hi) for _, hi in rest]
  mu = np.asarray(mu, np.float32)
  label = ", ".join(f"{n} = {v:.4g}" for n, v in zip(pde.mu_names, mu) if v or len(mu) < 3)
  label += "".join(f", {n} = {hi:g}" for n, (_, hi) in zip(rest_names, rest))
  exact = pde.reference(xx, tt, *others, mu)
  pred = np.asarray(solver(xx, tt, *others, mu), np.float64)
  fields = tuple(pde.fields)
  if len(fields) == 1:
    exact, pred = exact[..., None], pred[..., None]
  for i, f in enumerate(fields):
    if f in getattr(pde, "mean_free", ()):
      exact[..., i] -= exact[..., i].mean()
      pred[..., i] -= pred[..., i].mean()
  fig, axes = plt.subplots(
    len(fields), 3, figsize=(13, 3.6 * len(fields)), constrained_layout=True, squeeze=False
  )
  for row, f in zip(axes, range(len(fields))):
    e, p = exact[..., f], pred[..., f]
    name = "" if len(fields) == 1 else f"{fields[f]}: "
    for ax, z, what in zip(
      row, (e, p, np.abs(p - e)), ("exact", f"predicted ({title})", "|error|")
    ):
      im = ax.pcolormesh(tt, xx, z, shading="auto", cmap="rainbow")
      ax.set(xlabel=tn, ylabel=xn, title=f"{name}{what}, {label}")
      fig.colorbar(im, ax=ax)
  rel = [
    np.linalg.norm(pred[..., f] - exact[..., f]) / np.linalg.norm(exact[..., f])
    for f in range(len(fields))
  ]
  text = (
    ", ".join(f"{fields[f]} {r:.4f}" for f, r in enumerate(rel))
    if len(fields) > 1
    else (f"{rel[0]:.4f}")
  )
  fig.suptitle(f"relative L2 error {text} on the {nx} x {nt} grid")
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_flow(plt, solver, mu, title, path):
  """A flow of a problem in (x, y[, t]) with fields u, v: vorticity v_x - u_y (colour) and the
  velocity (arrows), exact beside predicted, at the last time, and the velocity error."""
  pde = pde_of(solver)
  names = pde.coord_names
  n = 96
  (x_lo, x_hi), (y_lo, y_hi) = pde.box("x"), pde.box("y")
  xx, yy = np.meshgrid(np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n))
  t_end = pde.box(pde.time)[1] if pde.time else None
  coords = [xx if c == "x" else yy if c == "y" else np.full_like(xx, t_end) for c in names]
  mu = np.asarray(mu, np.float32)
  iu, iv = pde.fields.index("u"), pde.fields.index("v")
  exact = pde.reference(*coords, mu)
  pred = np.asarray(solver(*coords, mu), np.float64)
  dx, dy = xx[0, 1] - xx[0, 0], yy[1, 0] - yy[0, 0]
  vort = lambda f: np.gradient(f[..., iv], dx, axis=1) - np.gradient(f[..., iu], dy, axis=0)
  label = ", ".join(f"{k} = {v:.4g}" for k, v in zip(pde.mu_names, mu))
  when = f", {pde.time} = {t_end:g}" if pde.time else ""
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), constrained_layout=True)
  w_e, w_p = vort(exact), vort(pred)
  lim = np.abs(w_e).max()
  k = slice(None, None, 8)
  for ax, f, w, what in ((axes[0], exact, w_e, "exact"), (axes[1], pred, w_p, title)):
    im = ax.pcolormesh(xx, yy, w, shading="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.quiver(xx[k, k], yy[k, k], f[k, k, iu], f[k, k, iv])
    ax.set(xlabel="x", ylabel="y", title=what, aspect="equal")
    fig.colorbar(im, ax=ax)
  err = np.hypot(pred[..., iu] - exact[..., iu], pred[..., iv] - exact[..., iv])
  im = axes[2].pcolormesh(xx, yy, err, shading="auto", cmap="rainbow")
  axes[2].set(xlabel="x", ylabel="y", title="|velocity error|", aspect="equal")
  fig.colorbar(im, ax=axes[2])
  rel = np.linalg.norm(pred[..., [iu, iv]] - exact[..., [iu, iv]]) / np.linalg.norm(
    exact[..., [iu, iv]]
  )
  fig.suptitle(
    f"vorticity (colour) and velocity (arrows) at {label}{when}; velocity relative "
    f"L2 error {rel:.4f} on the {n} x {n} grid"
  )
  _cli.save_png(fig, path, 100)
  plt.close(fig)


def fig_curves(plt, history_path, path):
  rows = [json.loads(l) for l in open(history_path) if l.strip()]
  step = [r["step"] for r in rows]
  fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
  for key, value in rows[0].items():  # the total and every loss term
    if key not in ("step", "seconds") and not key.startswith("test_") and isinstance(value, float):
      a.semilogy(step, [r[key] for r in rows], label=key)
  a.set(xlabel="Phase-1 step", ylabel="loss", title="Phase-1 training loss")
  a.legend()
  if "test_rel_err" in rows[0]:
    b.semilogy(step, [r["test_rel_err"] for r in rows], label="mean over training mu")
  if "test_rel_err_max" in rows[0]:
    b.semilogy(step, [r["test_rel_err_max"] for r in rows], label="max over training mu")
    b.legend()
  b.set(xlabel="Phase-1 step", ylabel="rel. L2 error", title="zero-shot test error, training mu")
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_ranks(plt, solver, lo, hi, path):
  import jax
  import jax.numpy as jnp

  betas = np.linspace(lo, hi, 121)
  mus = jnp.asarray(np.stack([betas, 0 * betas, 0 * betas], 1), jnp.float32)
  s = jax.vmap(solver.s)(mus)
  fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
  for l, v in enumerate(s):
    a.plot(betas, np.sum(np.asarray(v) > 0, axis=1), label=f"layer {l + 1}")
  a.set(xlabel="beta", ylabel="rank (nonzero entries of s_l)", title="adaptive rank vs beta")
  a.legend()
  layer = min(1, len(s) - 1)
  mags = -np.sort(-np.abs(np.asarray(s[layer])), axis=1)
  im = b.imshow(
    mags.T,
    aspect="auto",
    origin="upper",
    cmap="viridis",
    extent=[betas[0], betas[-1], mags.shape[1], 0],
  )
  b.set(xlabel="beta", ylabel="sorted index", title=f"sorted |s_{layer + 1}(beta)|")
  fig.colorbar(im, ax=b)
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_many_query(plt, mq_path, path):
  d = json.load(open(mq_path))
  if "betas" in d:
    rows, name = d["betas"], "beta"
    beta = [r["beta"] for r in rows]
  else:  # any problem: along its one parameter, or by index for several
    rows = d["mus"]
    one = len(rows[0]["mu"]) == 1
    name = "mu" if one else "mu (index)"
    beta = [r["mu"][0] if one else i for i, r in enumerate(rows)]
  fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
  a.semilogy(beta, [r["zero_shot_rel_err"] for r in rows], ".", label="zero-shot (Phase 1)")
  a.semilogy(
    beta, [r["phase2_rel_err"] for r in rows], ".", label=f"Phase 2 ({d['phase2_steps']} LM steps)"
  )
  if name == "beta":
    a.axvspan(30, 40, color="grey", alpha=0.15, label="training range")
  a.set(
    xlabel=name,
    ylabel="relative L2 error",
    title=f"{len(rows)} mu, batched Phase 2 in {d['seconds']:.0f} s",
  )
  a.legend()
  b.plot(beta, [r["trainable_params"] for r in rows], ".")
  b.set(xlabel=name, ylabel="trainable parameters", title="Phase-2 trainable parameters")
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_families(plt, results_path, path):
  d = json.load(open(results_path))
  if "summary_by_family" not in d:
    raise UserError(f"--families: {results_path} has no summary_by_family (train with --mu_set)")
  fam = d["summary_by_family"]
  names = list(fam)
  stages = [k for k in fam[names[0]] if k != "count"]  # zero_shot, then the Phase-2 modes
  fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
  width = 0.8 / len(stages)
  pos = np.arange(len(names))
  for ax, key, title in zip(axes, ("mean_rel_err", "max_rel_err"), ("mean", "worst")):
    for j, stage in enumerate(stages):
      ax.bar(
        pos + (j - (len(stages) - 1) / 2) * width,
        [fam[n][stage][key] for n in names],
        width,
        label=stage.replace("_", "-") if stage == "zero_shot" else f"Phase 2 ({stage})",
      )
    ax.set_yscale("log")
    ax.set_xticks(
      pos,
      [f"{n.replace('_', '-')} ({fam[n]['count']})" for n in names],
      fontsize=8,
      rotation=20,
      ha="right",
    )
    ax.set(ylabel="relative L2 error", title=f"{title} over each sub-family's mu")
    ax.legend()
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_steps_to(plt, paths, path):
  """Steps and seconds to mean |u - u_exact| <= 0.05 against beta, one line per method of each
  compare.json (hyper_lr labelled with its Phase-2 optimizer); not reached: hollow at the top."""
  lines = []
  for p in paths:
    try:
      with open(p) as f:
        methods = json.load(f)["methods"]
    except (OSError, ValueError, KeyError) as e:
      raise UserError(f"--steps_to: {p} is not a compare.json ({e})") from None
    for name, m in methods.items():
      rows = m["targets"]
      opt = {"lm": "LM", "adam": "Adam"}.get(rows[0].get("optimizer"), "")
      label = {"hyper_lr": f"Hyper-LR-PINN, {opt} Phase 2", "pinn": "PINN from scratch"}
      label = label.get(name, name)
      lines.append((label, rows))
  fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
  for ax, key, unit in zip(axes, ("steps_to_0.05", "seconds_to_0.05"), ("steps", "seconds")):
    top = max([r.get(key) or 0 for _, rows in lines for r in rows] + [1]) * 2
    for label, rows in lines:
      beta = np.array([r["mu"][0] for r in rows])
      val = np.array([np.nan if r.get(key) is None else r[key] for r in rows], float)
      (h,) = ax.plot(beta, val, "o-", ms=4, label=label)
      miss = np.isnan(val)
      if miss.any():
        ax.plot(beta[miss], np.full(miss.sum(), top), "o", mfc="none", color=h.get_color())
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(
      xlabel="beta",
      ylabel=f"{unit} to mean |error| <= 0.05",
      title=f"{unit} to mean |u - u_exact| <= 0.05 (hollow: not reached)",
    )
    ax.legend(fontsize=8)
  _cli.save_png(fig, path, 110)
  plt.close(fig)


def fig_calibration(plt, paths, path):
  """Observed against nominal coverage of the answer's intervals, one line per trials.json and
  estimated coordinate, labelled by the run's folder, noise and coordinate."""
  fig, ax = plt.subplots(figsize=(5.5, 5))
  ax.plot([0.0, 1.0], [0.0, 1.0], "k--", lw=1, label="calibrated")
  lowest = 0.45
  for p in paths:
    try:
      with open(p) as f:
        run = json.load(f)
      cov = run["summary"]["coverage"]
      names = run.get("mu_names") or [f"mu[{i}]" for i in run["trials"][0]["free"]]
    except (OSError, ValueError, KeyError) as e:
      raise UserError(f"--calibration: {p} is not a trials.json with coverage ({e})") from None
    levels = sorted(cov, key=float)
    model = os.path.basename(os.path.normpath(str(run.get("checkpoint", ""))))
    for j, name in enumerate(names):
      seen = [cov[v][j] for v in levels]
      lowest = min(lowest, min(seen))
      ax.plot(
        [float(v) for v in levels],
        seen,
        "o-",
        label=f"{model}: {name}, {100 * run['noise']:g}% noise",
      )
  ax.set(
    xlabel="nominal coverage (the command's answer)",
    ylabel="observed coverage",
    xlim=(0.45, 1.0),
    ylim=(lowest - 0.03, 1.02),
    title=f"Inverse problem: interval calibration ({len(run['trials'])} trials each)",
  )
  ax.legend(fontsize=7, loc="lower right")
  fig.tight_layout()
  _cli.save_png(fig, path, 120)
  plt.close(fig)


def main(argv):
  del argv
  plt = _plt()
  out = FLAGS.out or (
    FLAGS.workdir
    if FLAGS.workdir and not FLAGS.workdir.endswith(".npz")
    else os.path.dirname(
      FLAGS.many_query
      or FLAGS.families
      or (FLAGS.calibration or FLAGS.steps_to or "").split(",")[0]
    )
    or "."
  )
  os.makedirs(out, exist_ok=True)
  made = []
  if FLAGS.mu:
    mu = _cli.parse_floats("mu", FLAGS.mu)
    fig2 = f"fig2_solution_mu{'_'.join(f'{v:g}' for v in mu)}.png"
  else:
    mu, fig2 = [FLAGS.beta, 0.0, 0.0], f"fig2_solution_beta{FLAGS.beta:g}.png"
  if FLAGS.workdir:
    solver = load_phase1(FLAGS.workdir)
    if len(mu) != solver.config.mu_dim:
      raise UserError(f"--mu needs {solver.config.mu_dim} numbers for this model, got {len(mu)}")
    if solver.config.mu_dim == 3:  # ranks along the CDR family's beta axis
      lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
      fig_ranks(plt, solver, lo, hi, os.path.join(out, "fig4_ranks.png"))
      made.append("fig4_ranks.png")
    history = os.path.join(FLAGS.workdir, HISTORY_FILE)
    if os.path.exists(history):
      fig_curves(plt, history, os.path.join(out, "fig3_phase1_curves.png"))
      made.append("fig3_phase1_curves.png")
    pde = pde_of(solver)
    if {"u", "v"} <= set(pde.fields) and {"x", "y"} <= set(pde.coord_names):
      flow = fig2.replace("fig2_solution", "fig_flow")
      fig_flow(plt, solver, mu, "predicted (Phase 1, zero-shot)", os.path.join(out, flow))
      made.append(flow)
    if not FLAGS.finetune:
      fig_solution(plt, solver, mu, "Phase 1, zero-shot", os.path.join(out, fig2))
      made.append(fig2)
  if FLAGS.finetune:
    fig_solution(plt, checkpoint.load(FLAGS.finetune), mu, "after Phase 2", os.path.join(out, fig2))
    made.append(fig2)
  if FLAGS.calibration:
    fig_calibration(plt, FLAGS.calibration.split(","), os.path.join(out, "fig_calibration.png"))
    made.append("fig_calibration.png")
  if FLAGS.steps_to:
    fig_steps_to(plt, FLAGS.steps_to.split(","), os.path.join(out, "fig6_steps_to_target.png"))
    made.append("fig6_steps_to_target.png")
  if FLAGS.many_query:
    if not os.path.exists(FLAGS.many_query):
      raise UserError(f"--many_query: {FLAGS.many_query} not found")
    fig_many_query(plt, FLAGS.many_query, os.path.join(out, "fig5_many_query.png"))
    made.append("fig5_many_query.png")
  if FLAGS.families:
    if not os.path.exists(FLAGS.families):
      raise UserError(f"--families: {FLAGS.families} not found")
    fig_families(plt, FLAGS.families, os.path.join(out, "fig_families.png"))
    made.append("fig_families.png")
  if not made:
    raise UserError("nothing to plot: give --workdir, --finetune, --many_query and/or --families")
  print(f"[plots] wrote {', '.join(made)} to {out}")


if __name__ == "__main__":
  _cli.run_main(main)
