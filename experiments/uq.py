"""Uncertainty propagation: mean, std and quantiles of u(x, t; mu) over a grid for random mu.

  python -m experiments.uq --checkpoint=DIR --dist=uniform:30,40 --grid=256x101 --out=DIR \
      [--method=quadrature|qmc|mc --n=N --refine_steps=K]

--dist: uniform:lo,hi[,lo,hi...] or normal:mean,std[,mean,std...] over the coordinates of mu that
vary in the model's training grid (normal samples clipped to that grid's box); --samples=FILE.npy
(N, n_mu) instead gives the mu themselves. --method: Gauss quadrature (default; --n nodes in all),
scrambled Sobol (qmc) or Monte Carlo (mc) with --n points. --refine_steps > 0 gives every node K
batched LM Phase-2 steps first. Writes uq.npz (x, t, mean, std, quantiles; fields (len(t), len(x))),
uq.json (seconds of the whole computation, method, n, settings; for convection with a uniform beta
also the relative L2 error of mean and std against the exact statistics) and uq.png.
"""
from __future__ import annotations

import os

import numpy as np
from absl import flags

from experiments import _cli
from lrpinn_jax.query import many_query
from lrpinn_jax.query import uq
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.pdes.registry import pde_of

flags.DEFINE_string("checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True)
flags.DEFINE_string("dist", "uniform:30,40", "uniform:lo,hi,... or normal:mean,std,... over the "
                    "free coordinates of mu")
flags.DEFINE_string("samples", None, "npy file of mu samples (N, n_mu), instead of --dist")
flags.DEFINE_enum("method", "quadrature", list(uq.RULES), "quadrature, qmc or mc")
flags.DEFINE_integer("n", 64, "quadrature nodes in all, or qmc / mc points", lower_bound=1)
flags.DEFINE_string("grid", "256x101", "grid NXxNT")
flags.DEFINE_integer("refine_steps", 0, "batched LM Phase-2 steps per node first (0: zero-shot)",
                     lower_bound=0)
flags.DEFINE_integer("chunk", 0, "mu per compiled call (0: 256 zero-shot, 100 refined)",
                     lower_bound=0)
flags.DEFINE_integer("seed", 0, "seed of qmc / mc points and of the Phase-2 training points",
                     lower_bound=0)
flags.DEFINE_string("out", "runs/uq", "output folder")
FLAGS = flags.FLAGS


def parse_dist(text: str, box: np.ndarray) -> uq.Dist:
  kind, _, rest = text.partition(":")
  free = tuple(int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0])) or (0,)
  if kind not in ("uniform", "normal"):
    raise UserError(f"--dist must start with uniform: or normal:, got {text!r}")
  vals = _cli.parse_floats("dist", rest)
  if len(vals) != 2 * len(free):
    raise UserError(f"--dist needs {2 * len(free)} numbers (two per free coordinate {free}), "
                    f"got {len(vals)}")
  params = tuple((vals[2 * i], vals[2 * i + 1]) for i in range(len(free)))
  for a, b in params:
    if (kind == "uniform" and not a < b) or (kind == "normal" and not b > 0):
      raise UserError(f"--dist {kind}: need lo < hi (uniform) or std > 0 (normal), got {a}, {b}")
  clip = tuple(map(tuple, box[list(free)])) if kind == "normal" else None
  return uq.Dist(kind, params, free, tuple(map(float, box[:, 0])), clip)


def _plot(path, res):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  ext = [res["x"][0], res["x"][-1], res["t"][0], res["t"][-1]]
  for ax, key in zip(axes, ("mean", "std")):
    im = ax.imshow(res[key], origin="lower", aspect="auto", extent=ext, cmap="viridis")
    ax.set(xlabel="x", ylabel="t", title=f"{key} of u")
    fig.colorbar(im, ax=ax)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv):
  del argv
  try:
    nx, nt = (int(v) for v in FLAGS.grid.lower().split("x"))
    assert nx > 0 and nt > 1
  except (ValueError, AssertionError):
    raise UserError(f"--grid must be NXxNT with positive integers, got {FLAGS.grid!r}") from None
  solver = load_phase1(FLAGS.checkpoint)
  pde = pde_of(solver)
  box = training_box(FLAGS.checkpoint, solver.config.n_mu)
  samples, dist = None, None
  if FLAGS.samples:
    try:
      samples = np.load(FLAGS.samples)
    except (OSError, ValueError) as e:
      raise UserError(f"cannot read {FLAGS.samples} as npy ({e})") from None
    if samples.ndim != 2 or samples.shape[1] != pde.n_mu or not np.all(np.isfinite(samples)):
      raise UserError(f"--samples must be finite (N, {pde.n_mu}), got shape {samples.shape}")
  else:
    dist = parse_dist(FLAGS.dist, box)
  res = uq.run(solver, pde, dist, rule=FLAGS.method, n=FLAGS.n, nx=nx, nt=nt,
               refine_steps=FLAGS.refine_steps, chunk=FLAGS.chunk, seed=FLAGS.seed,
               samples=samples, log=print)
  os.makedirs(FLAGS.out, exist_ok=True)
  info = {"checkpoint": FLAGS.checkpoint, "method": "samples" if samples is not None
          else FLAGS.method, "n": res["n"], "grid": [nx, nt], "refine_steps": FLAGS.refine_steps,
          "dist": None if dist is None else FLAGS.dist, "seconds": res["seconds"],
          "peak_memory_mb": many_query.peak_memory_mb()}
  if samples is not None or FLAGS.method == "mc":  # the Monte Carlo standard error of the mean
    info["mean_stderr_max"] = float(res["stderr"].max())
  if (dist is not None and dist.kind == "uniform" and pde.name == "convection"
      and pde.init_cond == "sin_1" and dist.free == (0,)):
    mean, std = uq.convection_uniform_exact(res["x"], res["t"], *dist.params[0])
    info["exact_rel_l2"] = {"mean": uq.rel_l2(res["mean"], mean), "std": uq.rel_l2(res["std"], std)}
  tmp = os.path.join(FLAGS.out, "uq.tmp.npz")
  np.savez(tmp, x=res["x"], t=res["t"], mean=res["mean"], std=res["std"],
           quantiles=res["quantiles"], quantile_levels=res["quantile_levels"])
  os.replace(tmp, os.path.join(FLAGS.out, "uq.npz"))
  write_json_atomic(os.path.join(FLAGS.out, "uq.json"), info)
  try:
    import matplotlib  # noqa: F401  (optional: pip install '.[plots]')
  except ImportError:
    print("[plot] matplotlib is not installed: no figure (pip install '.[plots]')")
  else:
    _plot(os.path.join(FLAGS.out, "uq.png"), res)
  print(f"[uq] {info}")


if __name__ == "__main__":
  _cli.run_main(main)
