"""Uncertainty propagation: mean, std and quantiles of u(z; mu) over a grid for random mu.

  python -m experiments.uq --checkpoint=DIR --dist=uniform:30,40 --grid=256x101 --out=DIR \
      [--method=quadrature|qmc|mc --n=N --refine_steps=K]
  python -m experiments.uq --checkpoint=results/taylor_green --dist=uniform:0.02,0.08 \
      --grid=32x32x11 --out=runs/uq_tg

--dist: uniform:lo,hi[,lo,hi...] or normal:mean,std[,mean,std...] over the coordinates of mu that
vary in the model's training grid (normal samples clipped to that grid's box); --samples=FILE.npy
(N, mu_dim) instead gives the mu themselves. --method: Gauss quadrature (default; --n nodes in all),
scrambled Sobol (qmc) or Monte Carlo (mc) with --n points. --refine_steps > 0 gives every node K
batched LM Phase-2 steps first. --grid: points per coordinate in the problem's order (x, t: 256x101;
x, y, t: 32x32x11). Writes uq.npz (one array per coordinate by name; mean, std, quantiles on the
grid, its axes in reverse coordinate order, e.g. (len(t), len(x)), with a trailing axis of the
fields for a system, whose names are in "fields"),
uq.json (seconds of the whole computation, method, n, settings; for convection with a uniform beta
also the relative L2 error of mean and std against the exact statistics) and uq.png.
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1, training_box
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.query import many_query, uq

from . import _cli

flags.DEFINE_string(
  "checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True
)
flags.DEFINE_string(
  "dist",
  "uniform:30,40",
  "uniform:lo,hi,... or normal:mean,std,... over the free coordinates of mu",
)
flags.DEFINE_string("samples", None, "npy file of mu samples (N, mu_dim), instead of --dist")
flags.DEFINE_enum("method", "quadrature", list(uq.RULES), "quadrature, qmc or mc")
flags.DEFINE_integer("n", 64, "quadrature nodes in all, or qmc / mc points", lower_bound=1)
flags.DEFINE_string(
  "grid",
  None,
  "grid points per coordinate in the problem's order: NXxNT for "
  "(x, t) (default 256x101), NXxNYxNT for (x, y, t) (default 32x32x11)",
)
flags.DEFINE_integer(
  "refine_steps", 0, "batched LM Phase-2 steps per node first (0: zero-shot)", lower_bound=0
)
flags.DEFINE_integer(
  "chunk", 0, "mu per compiled call (0: 256 zero-shot, 100 refined)", lower_bound=0
)
flags.DEFINE_integer(
  "seed", 0, "seed of qmc / mc points and of the Phase-2 training points", lower_bound=0
)
flags.DEFINE_string("out", "runs/uq", "output folder")
FLAGS = flags.FLAGS


def parse_dist(text: str, box: np.ndarray) -> uq.Dist:
  kind, _, rest = text.partition(":")
  free = tuple(int(i) for i in np.flatnonzero(box[:, 1] > box[:, 0])) or (0,)
  if kind not in ("uniform", "normal"):
    raise UserError(f"--dist must start with uniform: or normal:, got {text!r}")
  vals = _cli.parse_floats("dist", rest)
  if len(vals) != 2 * len(free):
    raise UserError(
      f"--dist needs {2 * len(free)} numbers (two per free coordinate {free}), got {len(vals)}"
    )
  params = tuple((vals[2 * i], vals[2 * i + 1]) for i in range(len(free)))
  for a, b in params:
    if (kind == "uniform" and not a < b) or (kind == "normal" and not b > 0):
      raise UserError(f"--dist {kind}: need lo < hi (uniform) or std > 0 (normal), got {a}, {b}")
  clip = tuple(map(tuple, box[list(free)])) if kind == "normal" else None
  return uq.Dist(kind, params, free, tuple(map(float, box[:, 0])), clip)


def _plot(path, res, pde):
  """Mean and std of each field over the plane of the first two coordinates (at the last value
  of the others, e.g. the last time of Taylor-Green)."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  names, ax_vals = pde.coord_names, res["axes"]
  fields = tuple(getattr(pde, "fields", ("u",)))
  fig, axes = plt.subplots(len(fields), 2, figsize=(11, 4 * len(fields)), squeeze=False)
  ext = [ax_vals[0][0], ax_vals[0][-1], ax_vals[1][0], ax_vals[1][-1]]
  rest = ", ".join(f"{n} = {a[-1]:g}" for n, a in zip(names[2:], ax_vals[2:]))
  for k, field in enumerate(fields):
    for ax, key in zip(axes[k], ("mean", "std")):
      v = res[key][..., k] if len(fields) > 1 else res[key]
      v = v[(-1,) * (v.ndim - 2)]  # the plane of the first two coordinates
      im = ax.imshow(v, origin="lower", aspect="auto", extent=ext, cmap="viridis")
      ax.set(
        xlabel=names[0],
        ylabel=names[1],
        title=f"{key} of {field}" + (f" at {rest}" if rest else ""),
      )
      fig.colorbar(im, ax=ax)
  fig.tight_layout()
  _cli.save_png(fig, path, 120)
  plt.close(fig)


def main(argv):
  del argv
  solver = load_phase1(FLAGS.checkpoint)
  pde = pde_of(solver)
  try:
    text = FLAGS.grid or (
      "256x101"
      if len(pde.coord_names) == 2
      else "x".join(["32"] * (len(pde.coord_names) - 1) + ["11"])
    )
    sizes = tuple(int(v) for v in text.lower().split("x"))
    assert len(sizes) == len(pde.coord_names) and min(sizes) > 1
  except (ValueError, AssertionError):
    raise UserError(
      f"--grid must give one integer > 1 per coordinate of {pde.name} "
      f"({'x'.join(pde.coord_names)}), e.g. {'x'.join(['32'] * len(pde.coord_names))}"
      f"; got {FLAGS.grid!r}"
    ) from None
  box = training_box(FLAGS.checkpoint, solver.config.mu_dim)
  samples, dist = None, None
  if FLAGS.samples:
    try:
      samples = np.load(FLAGS.samples)
    except (OSError, ValueError) as e:
      raise UserError(f"cannot read {FLAGS.samples} as npy ({e})") from None
    if samples.ndim != 2 or samples.shape[1] != pde.mu_dim or not np.all(np.isfinite(samples)):
      raise UserError(f"--samples must be finite (N, {pde.mu_dim}), got shape {samples.shape}")
  else:
    dist = parse_dist(FLAGS.dist, box)
  res = uq.run(
    solver,
    pde,
    dist,
    rule=FLAGS.method,
    n=FLAGS.n,
    sizes=sizes,
    refine_steps=FLAGS.refine_steps,
    chunk=FLAGS.chunk,
    seed=FLAGS.seed,
    samples=samples,
    log=print,
  )
  os.makedirs(FLAGS.out, exist_ok=True)
  info = {
    "checkpoint": FLAGS.checkpoint,
    "method": "samples" if samples is not None else FLAGS.method,
    "n": res["n"],
    "grid": list(sizes),
    "coords": list(pde.coord_names),
    "fields": list(getattr(pde, "fields", ("u",))),
    "refine_steps": FLAGS.refine_steps,
    "dist": None if dist is None else FLAGS.dist,
    "seconds": res["seconds"],
    "peak_memory_mb": many_query.peak_memory_mb(),
  }
  if samples is not None or FLAGS.method == "mc":  # the Monte Carlo standard error of the mean
    info["mean_stderr_max"] = float(res["stderr"].max())
  if (
    dist is not None
    and dist.kind == "uniform"
    and pde.name == "convection"
    and pde.init_cond == "sin_1"
    and dist.free == (0,)
  ):
    mean, std = uq.convection_uniform_exact(*res["axes"], *dist.params[0])
    info["exact_rel_l2"] = {"mean": uq.rel_l2(res["mean"], mean), "std": uq.rel_l2(res["std"], std)}
  if dist is not None and dist.kind == "uniform" and pde.name == "taylor_green":
    from lrpinn_jax.pdes.taylor_green import uniform_nu_moments

    tt, yy, xx = np.meshgrid(*res["axes"][::-1], indexing="ij")
    mean, std = uniform_nu_moments(xx, yy, tt, *dist.params[0])
    # The pressure's mean is compared with its grid mean removed (p is fixed up to a constant).
    got = {"mean": res["mean"].copy(), "std": res["std"]}
    for a in (got["mean"], mean):
      a[..., 2] -= a[..., 2].mean()
    want = {"mean": mean, "std": std}
    info["exact_rel_l2"] = {
      key: {f: uq.rel_l2(got[key][..., i], want[key][..., i]) for i, f in enumerate(pde.fields)}
      for key in ("mean", "std")
    }
  tmp = os.path.join(FLAGS.out, "uq.tmp.npz")
  np.savez(
    tmp,
    **dict(zip(pde.coord_names, res["axes"])),
    mean=res["mean"],
    std=res["std"],
    quantiles=res["quantiles"],
    quantile_levels=res["quantile_levels"],
  )
  os.replace(tmp, os.path.join(FLAGS.out, "uq.npz"))
  write_json_atomic(os.path.join(FLAGS.out, "uq.json"), info)
  try:
    import matplotlib  # noqa: F401  (optional: pip install '.[plots]')
  except ImportError:
    print("[plot] matplotlib is not installed: no figure (pip install '.[plots]')")
  else:
    _plot(os.path.join(FLAGS.out, "uq.png"), res, pde)
  print(f"[uq] {info}")


if __name__ == "__main__":
  _cli.run_main(main)
