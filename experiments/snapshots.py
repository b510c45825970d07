"""Solution snapshots at one mu: Hyper-LR-PINN after a few Phase-2 steps against a PINN trained
from scratch for many steps, on the same points (paper Fig. 7: Helmholtz at a = 2.5, 10 Phase-2
epochs against 2,000 PINN epochs).

  python -m experiments.snapshots --checkpoint=results/helmholtz_2_3 --mu=2.5,2.5 \
      --phase2_steps=10 --pinn_steps=2000 --out=results/helmholtz_2_3

Any Phase-1 model of a problem of two coordinates. Phase 2 is the model's recipe optimizer
(--phase2_optimizer; geodesic LM for Helmholtz), the PINN is the paper's 4 x 50 tanh network
with Adam (--lr), both on --n_f collocation points and the problem's condition points of one
draw. Writes <out>/snapshots_mu<mu>.json (errors on a grid, steps, seconds, trainable numbers)
and <out>/fig7_snapshots_mu<mu>.png (exact, both predictions and their errors).
"""

from __future__ import annotations

import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from lrpinn_jax.baselines import nets
from lrpinn_jax.baselines.fit import fit, pinn_loss
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import finetune
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.train import PHASE2_OPTIMIZERS
from lrpinn_jax.io.checkpoint import load
from lrpinn_jax.metrics import errors
from lrpinn_jax.pdes.registry import pde_of

from . import _cli

flags.DEFINE_string("checkpoint", None, "Phase-1 workdir of the model", required=True)
flags.DEFINE_string("mu", "2.5,2.5", "the mu of the snapshot")
flags.DEFINE_integer("phase2_steps", 10, "Hyper-LR-PINN Phase-2 steps", lower_bound=0)
flags.DEFINE_enum("phase2_optimizer", "lm_geodesic", list(PHASE2_OPTIMIZERS), "Phase-2 optimizer")
flags.DEFINE_integer("pinn_steps", 2000, "Adam steps of the PINN from scratch", lower_bound=1)
flags.DEFINE_float("lr", 1e-3, "Adam learning rate (the PINN; Adam Phase 2)")
flags.DEFINE_integer("n_f", 1000, "collocation points (both methods)", lower_bound=1)
flags.DEFINE_integer("grid", 101, "snapshot grid points per coordinate", lower_bound=2)
flags.DEFINE_integer("seed", 0, "seed of the points and the PINN's initialisation", lower_bound=0)
flags.DEFINE_string("out", None, "output folder (default: --checkpoint)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  solver = load(FLAGS.checkpoint)
  pde = pde_of(solver)
  if len(pde.domain) != 2:
    raise UserError(f"snapshots draw a problem of two coordinates; {pde.name} has {pde.d}")
  mu = np.asarray(_cli.parse_floats("mu", FLAGS.mu), np.float64)
  if len(mu) != pde.mu_dim:
    raise UserError(f"--mu needs {pde.mu_dim} numbers for {pde.name}, got {len(mu)}")
  out = FLAGS.out or FLAGS.checkpoint
  tag = "_".join(f"{v:g}" for v in mu)
  axes = [np.linspace(lo, hi, FLAGS.grid) for lo, hi in pde.domain]
  g0, g1 = np.meshgrid(*axes, indexing="ij")
  exact = pde.reference(g0.ravel(), g1.ravel(), mu).reshape(g0.shape)
  data = DataConfig(n_f=FLAGS.n_f)

  with tempfile.TemporaryDirectory() as tmp:
    tuned = finetune.run(
      FLAGS.checkpoint,
      mu,
      tmp,
      optimizer=FLAGS.phase2_optimizer,
      steps=FLAGS.phase2_steps,
      max_seconds=None,
      lr=FLAGS.lr,
      data=data,
      seed=FLAGS.seed,
    )
    hyper = np.asarray(load(tmp)(g0, g1, mu))
  zero_shot = np.asarray(solver(g0, g1, mu))

  net = nets.pinn()
  points = jax.tree.map(jnp.asarray, train_batch(pde, data, FLAGS.seed))
  t0 = time.perf_counter()
  params, info = fit(
    pinn_loss(net, pde, points, pde.needs_uxx(mu[None])),
    net.init(jax.random.key(FLAGS.seed)),
    mu,
    steps=FLAGS.pinn_steps,
    lr=FLAGS.lr,
  )
  pinn_wall = time.perf_counter() - t0
  pinn = np.asarray(
    jax.vmap(net.apply(params, jnp.asarray(mu, jnp.float32)))(g0.ravel(), g1.ravel())
  )
  pinn = pinn.reshape(g0.shape)

  result = {
    "checkpoint": FLAGS.checkpoint,
    "mu": mu.tolist(),
    "grid": FLAGS.grid,
    "n_f": FLAGS.n_f,
    "zero_shot": errors(zero_shot, exact),
    "hyper_lr": {
      **errors(hyper, exact),
      "optimizer": FLAGS.phase2_optimizer,
      "steps": tuned["final"]["steps"],
      "seconds": tuned["final"]["seconds"],
      "trainable_params": tuned["final"]["trainable_params"],
    },
    "pinn": {
      **errors(pinn, exact),
      "steps": FLAGS.pinn_steps,
      "seconds": info["seconds"],
      "wall_seconds": pinn_wall,
      "trainable_params": nets.count(params),
    },
  }
  os.makedirs(out, exist_ok=True)
  write_json_atomic(os.path.join(out, f"snapshots_mu{tag}.json"), result)
  figure(axes, exact, hyper, pinn, result, os.path.join(out, f"fig7_snapshots_mu{tag}.png"))
  print(
    f"[snapshots] mu={mu.tolist()}: zero-shot {result['zero_shot']['rel_err']:.4f}, "
    f"Hyper-LR-PINN after {result['hyper_lr']['steps']} steps {result['hyper_lr']['rel_err']:.4f} "
    f"({result['hyper_lr']['seconds']:.1f} s), PINN after {FLAGS.pinn_steps} steps "
    f"{result['pinn']['rel_err']:.4f} ({result['pinn']['seconds']:.1f} s); wrote {out}"
  )


def figure(axes, exact, hyper, pinn, result, path):
  from matplotlib.figure import Figure

  fig = Figure(figsize=(13, 7.5), constrained_layout=True)
  grid = fig.subplots(2, 3)
  extent = [axes[1][0], axes[1][-1], axes[0][0], axes[0][-1]]
  h, p = result["hyper_lr"], result["pinn"]
  panels = [
    (exact, "exact", "RdBu_r"),
    (hyper, f"Hyper-LR-PINN, {h['steps']} Phase-2 steps: rel. L2 {h['rel_err']:.4f}", "RdBu_r"),
    (pinn, f"PINN, {p['steps']} Adam steps: rel. L2 {p['rel_err']:.4f}", "RdBu_r"),
  ]
  lim = float(np.abs(exact).max())
  for ax, (u, title, cmap) in zip(grid[0], panels):
    im = ax.imshow(u, origin="lower", extent=extent, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    ax.set(title=title, xlabel="y", ylabel="x")
    fig.colorbar(im, ax=ax)
  err_max = float(max(np.abs(hyper - exact).max(), np.abs(pinn - exact).max()))
  grid[1][0].axis("off")
  grid[1][0].text(
    0.0,
    0.5,
    f"mu = {result['mu']}\nHyper-LR-PINN: {h['trainable_params']} trainable, {h['seconds']:.1f} s"
    f"\nPINN: {p['trainable_params']} trainable, {p['seconds']:.1f} s",
    fontsize=11,
  )
  for ax, u, name in ((grid[1][1], hyper, "Hyper-LR-PINN"), (grid[1][2], pinn, "PINN")):
    im = ax.imshow(np.abs(u - exact), origin="lower", extent=extent, vmin=0, vmax=err_max,
                   aspect="auto")  # fmt: skip
    ax.set(title=f"|error|, {name}", xlabel="y", ylabel="x")
    fig.colorbar(im, ax=ax)
  _cli.save_png(fig, path, 100)


if __name__ == "__main__":
  _cli.run_main(main)
