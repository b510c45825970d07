"""The adaptive rank of a trained model against beta (paper Fig. 4 b, c) and its trainable count
(paper Table 3), at one or more rank tolerances (``ModelConfig.rank_tol``).

  python -m experiments.ranks --workdir=<phase-1 workdir> [--beta_range=lo,hi] [--beta_step=1]
      [--rank_tols=0,1e-3,1e-2] [--out=<folder>]

For each tolerance: the ranks of every low-rank layer at each beta (mu = (beta, 0, 0), or the
model's other mu entries at the centre of its training range), the zero-shot relative L2 error
there and the Phase-2 trainable count (s, first and last layer; adaptive rank mode). Writes
<out>/ranks.json and <out>/fig4_ranks.png: the ranks per layer against beta (at
--figure_rank_tol) and the sorted s_l(beta)^2 of every layer, as trained (untruncated).
Table 3 beside the paper's: Phase-2 trainable numbers at fixed ranks 10-50, at the adaptive
ranks (at --figure_rank_tol), and of the plain PINN (the paper's 4 x 50 tanh network).
"""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from lrpinn_jax.baselines import nets
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import phase1
from lrpinn_jax.fit.data import DataConfig, test_set
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.io.checkpoint import load
from lrpinn_jax.metrics import errors
from lrpinn_jax.nn.model import hyper_s
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.precision import real

from . import _cli

flags.DEFINE_string("workdir", None, "Phase-1 experiment workdir", required=True)
flags.DEFINE_string("beta_range", None, "beta range (default: the model's training range)")
flags.DEFINE_float("beta_step", 1.0, "beta spacing", lower_bound=1e-6)
flags.DEFINE_string(
  "rank_tols",
  "0,1e-3,3e-3,1e-2,2e-2",
  "rank tolerances to evaluate (ModelConfig.rank_tol; the model's own is replaced)",
)
flags.DEFINE_float(
  "figure_rank_tol",
  1e-2,
  "the tolerance of the rank figure and of Table 3's "
  "adaptive count (added to --rank_tols if missing)",
  lower_bound=0.0,
)
flags.DEFINE_integer("n_test", 1000, "test points per beta", lower_bound=1)
flags.DEFINE_string("out", None, "folder for ranks.json and fig4_ranks.png (default: --workdir)")
FLAGS = flags.FLAGS

# Table 3 of the paper (convection, width 50, three low-rank layers): Phase-2 trainable numbers.
PAPER_TABLE3 = {
  "rank_10": 381,
  "rank_20": 411,
  "rank_30": 441,
  "rank_40": 471,
  "rank_50": 501,
  "adaptive": 351,
  "pinn": 10401,
}


def evaluate(solver, pde, mus: np.ndarray, tol: float, n_test: int) -> dict:
  """Ranks, zero-shot errors and Phase-2 trainable counts of ``solver`` at rank_tol ``tol``."""
  cfg = dataclasses.replace(solver.config, rank_tol=float(tol))
  params = solver.params
  s = jax.vmap(lambda mu: hyper_s(cfg, params["hyper"], mu))(jnp.asarray(mus, real()))
  ranks = np.stack([np.sum(np.asarray(v) > 0, axis=1) for v in s], axis=1)  # (n_mu, L)
  test = test_set(pde, DataConfig(n_test=n_test), mus, 0)
  coords = [jnp.asarray(c, real()) for c in test.coords]
  u = np.asarray(phase1.predict(cfg, params, mus, *coords, pde=pde))
  err = [errors(u[i], test.u[i])["rel_err"] for i in range(len(mus))]
  ends = nets.count(params["net"]["start"]) + nets.count(params["net"]["end"])
  return {
    "ranks": ranks.tolist(),
    "mean_rank": float(ranks.mean()),
    "zero_shot_rel_err": err,
    "zero_shot_max": float(max(err)),
    "zero_shot_mean": float(np.mean(err)),
    "trainable": (ranks.sum(1) + ends).tolist(),
  }


def table3(solver, adaptive_trainable) -> dict:
  """Phase-2 trainable numbers of this architecture at fixed ranks, adaptive, and the PINN."""
  net = solver.params["net"]
  ends = nets.count(net["start"]) + nets.count(net["end"])
  pinn = nets.count(nets.pinn().init(jax.random.key(0)))
  n_l = solver.config.n_lowrank
  return {
    **{f"rank_{r}": ends + n_l * r for r in (10, 20, 30, 40, 50)},
    "adaptive": float(np.mean(adaptive_trainable)),
    "pinn": pinn,
  }


def figure(betas, ranks, tol, s_sq, path):
  from matplotlib.figure import Figure

  fig = Figure(figsize=(4 + 4 * s_sq.shape[1], 3.6), constrained_layout=True)
  axes = fig.subplots(1, 1 + s_sq.shape[1])
  for l in range(ranks.shape[1]):
    axes[0].plot(betas, ranks[:, l], "o-", ms=3, label=f"layer {l + 1}")
  axes[0].set(
    xlabel="beta",
    ylabel="rank (nonzero entries of s_l)",
    title=f"adaptive rank vs beta (rank_tol {tol:g})",
  )
  axes[0].legend()
  from matplotlib import colormaps

  colors = colormaps["viridis"](np.linspace(0, 1, len(betas)))
  for l in range(s_sq.shape[1]):
    a = axes[1 + l]
    for i in range(len(betas)):
      v = s_sq[i, l]
      a.semilogy(np.arange(1, int((v > 0).sum()) + 1), v[v > 0], color=colors[i], lw=1)
    a.set(
      xlabel="index (sorted)",
      ylabel="s^2",
      title=f"layer {l + 1}: sorted s_{l + 1}^2",
    )
  fig.suptitle(f"sorted s^2 per beta (as trained): beta {betas[0]:g} dark to {betas[-1]:g} light")
  _cli.save_png(fig, path, 110)


def main(argv):
  del argv
  solver = load(FLAGS.workdir)
  if "hyper" not in solver.params:
    raise UserError(f"{FLAGS.workdir} holds a fine-tuned model; ranks need a Phase-1 model")
  pde = pde_of(solver)
  cfg = solver.config
  centre = np.asarray(cfg.mu_shift, np.float64)
  if FLAGS.beta_range:
    lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  else:
    lo, hi = centre[0] - cfg.mu_scale[0], centre[0] + cfg.mu_scale[0]
  betas = np.arange(lo, hi + 1e-9, FLAGS.beta_step)
  mus = np.repeat(centre[None], len(betas), axis=0)
  mus[:, 0] = betas
  tols = _cli.parse_floats("rank_tols", FLAGS.rank_tols)
  if any(t < 0 or t >= 1 for t in tols):
    raise UserError(f"--rank_tols must lie in [0, 1), got {FLAGS.rank_tols!r}")
  shown = FLAGS.figure_rank_tol
  tols = sorted(set(tols) | {shown})
  by_tol = {}
  for tol in tols:
    by_tol[f"{tol:g}"] = r = evaluate(solver, pde, mus, tol, FLAGS.n_test)
    print(
      f"rank_tol {tol:g}: mean rank {r['mean_rank']:.1f}, zero-shot max "
      f"{r['zero_shot_max']:.4f} mean {r['zero_shot_mean']:.4f}, Phase-2 trainable "
      f"{min(r['trainable'])}-{max(r['trainable'])}"
    )
  s = jax.vmap(
    lambda mu: hyper_s(dataclasses.replace(cfg, rank_tol=0.0), solver.params["hyper"], mu)
  )(jnp.asarray(mus, real()))
  s_sq = -np.sort(-np.stack([np.asarray(v) ** 2 for v in s], axis=1), axis=2)  # (n_mu, L, r)
  adaptive = by_tol[f"{shown:g}"]["trainable"]
  out = FLAGS.out or FLAGS.workdir
  os.makedirs(out, exist_ok=True)
  result = {
    "workdir": FLAGS.workdir,
    "betas": betas.tolist(),
    "mus": mus.tolist(),
    "by_rank_tol": by_tol,
    "s_sq_sorted": s_sq.tolist(),
    "table3": {**table3(solver, adaptive), "adaptive_rank_tol": shown},
    "paper_table3": PAPER_TABLE3,
  }
  write_json_atomic(os.path.join(out, "ranks.json"), result, indent=None)
  figure(
    betas,
    np.asarray(by_tol[f"{shown:g}"]["ranks"]),
    shown,
    s_sq,
    os.path.join(out, "fig4_ranks.png"),
  )
  print(
    "table 3 (ours / paper): "
    + ", ".join(
      f"{k} {v if isinstance(v, int) else round(v, 1)} / {PAPER_TABLE3[k]}"
      for k, v in result["table3"].items()
      if k in PAPER_TABLE3
    )
  )
  print(f"wrote {out}/ranks.json and {out}/fig4_ranks.png")


if __name__ == "__main__":
  _cli.run_main(main)
