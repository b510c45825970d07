"""Fine-tune any Phase-1 model (ours or the official npz) for one mu, and save the result."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import train
from lrpinn_jax.fit.data import DataConfig, test_set, train_batch
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.losses import block_vectors
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.fit.phase2 import merge_net, trainable_count
from lrpinn_jax.io import checkpoint, interop, programs
from lrpinn_jax.metrics import problem_errors
from lrpinn_jax.nn.model import point_fn
from lrpinn_jax.pdes.registry import pde_of
from lrpinn_jax.precision import np_real, real
from lrpinn_jax.query.solver import Solver

RESULT_FILE = "finetune.json"


def load_phase1(path: str) -> Solver:
  """A Phase-1 Solver from an experiment workdir or an official .npz checkpoint."""
  solver = interop.load_official(path) if str(path).endswith(".npz") else checkpoint.load(path)
  if "hyper" not in solver.params:
    raise UserError(f"{path} holds a fine-tuned (Phase-2) model; fine-tuning needs a Phase-1 model")
  return solver


def training_box(path: str, mu_dim: int) -> np.ndarray:
  """(mu_dim, 2) lo, hi of a Phase-1 model's training mu: from <workdir>/results.json, or the
  official checkpoint's beta in [30, 40] (nu = rho = 0)."""
  if str(path).endswith(".npz"):
    return np.array([[30.0, 40.0], [0.0, 0.0], [0.0, 0.0]])
  try:
    with open(os.path.join(path, "results.json")) as f:
      mus = np.asarray(json.load(f)["phase1"]["train_mu"], np.float64)
  except (OSError, ValueError, KeyError) as e:
    raise UserError(f"{path}: cannot read the training mu from results.json ({e})") from None
  if mus.ndim != 2 or mus.shape[1] != mu_dim:
    raise UserError(f"{path}: training mu of the wrong shape {mus.shape}")
  return np.stack([mus.min(0), mus.max(0)], 1)


def residual_rms(
  cfg,
  pde,
  trainable: dict,
  frozen: dict,
  mu,
  points,
  loss_cfg: LossConfig,
  program_key: Optional[str] = None,
) -> float:
  """Root mean square of the PDE residual (block "f") of a fine-tuned model at ``points``.
  program_key: as train.fit_phase2's (a stored program)."""

  def rms(trainable, frozen, mu, pts):
    net, s = merge_net(trainable, frozen)
    f = block_vectors(
      pde, point_fn(cfg, net, s, pde=pde, mu=mu), mu, pts, loss_cfg.deriv_mode, loss_cfg.need_xx
    )["f"]
    return jnp.sqrt(jnp.mean(f**2))

  key = None if program_key is None else repr((program_key, cfg, loss_cfg))
  return float(
    programs.stored(rms, "residual_rms", key)(
      trainable, frozen, jnp.asarray(mu), jax.tree.map(jnp.asarray, points)
    )
  )


def run(
  source: str,
  mu,
  workdir: str,
  *,
  optimizer: str = "lm",
  steps: int = 10000,
  max_seconds: Optional[float] = 60.0,
  lr: float = 2.5e-4,
  rank_mode: str = "adaptive",
  data: DataConfig = DataConfig(),
  seed: int = 0,
  eval_every: int = 1,
  tol: float = 0.0,
  deriv_mode: str = "jvp",
  log_every: int = 100,
  log: Callable = print,
  timed: Callable = lambda part: contextlib.nullcontext(),
) -> dict:
  """Phase 2 at ``mu`` from the Phase-1 model ``source``; writes <workdir>/finetune.json and the
  fine-tuned model (``lrpinn_jax.load(workdir)``). Returns the finetune.json dict.
  timed(part): a context manager around each part ("restore", "solve", "write"), e.g. the
  command's wall-time breakdown."""
  data.validate()
  if deriv_mode != "jvp":
    raise UserError(
      f"--deriv_mode={deriv_mode} was removed: derivatives are forward mode (jvp), "
      f"which measured faster"
    )
  if any(
    os.path.exists(os.path.join(workdir, n)) for n in (checkpoint.CKPT_DIR, checkpoint.PHASE2_FILE)
  ):
    raise UserError(f"{workdir} already holds a model; choose another --workdir")
  with timed("restore"):
    solver = load_phase1(source)
    pde = pde_of(solver)
  mu = np.asarray(mu, np_real())
  if mu.shape != (pde.mu_dim,) or not np.all(np.isfinite(mu)):
    raise UserError(
      f"--mu must be {pde.mu_dim} finite numbers {','.join(pde.mu_names)} for "
      f"{pde.name}, got {mu.tolist()}"
    )
  pde.check_mu(mu[None])
  points = train_batch(pde, data, seed)
  test = test_set(pde, data, mu[None], seed)
  loss_cfg = LossConfig(deriv_mode=deriv_mode, need_xx=pde.needs_uxx(mu[None]))
  key = programs.problem_key(solver)
  with timed("solve"):
    log(f"[finetune] {source} at mu={mu.tolist()} with {optimizer}, rank mode {rank_mode}")
    trainable, frozen, info = train.fit_phase2(
      solver.config,
      pde,
      solver.params,
      mu,
      points,
      steps=steps,
      lr=lr,
      rank_mode=rank_mode,
      optimizer=optimizer,
      loss_cfg=loss_cfg,
      max_seconds=max_seconds,
      tol=tol,
      eval_every=eval_every,
      test=(*test.coords, test.u[0]),
      log_every=log_every,
      log=log,
      program_key=key,
    )
    cfg = solver.config
    u = train.phase2_predictor(cfg, pde, key)(
      trainable, frozen, tuple(jnp.asarray(c, real()) for c in test.coords), jnp.asarray(mu, real())
    )
    final = {
      **problem_errors(pde, u, test.u[0]),
      "ranks": [int(v.shape[0]) for v in trainable["s"]],
      "trainable_params": trainable_count(trainable),
      "steps": info["steps"],
      "seconds": info["seconds"],
      "stopped": info["stopped"],
      # PDE residual at the training collocation points and at as many fresh ones: a fresh
      # value far above the training one means Phase 2 fitted the points, not the PDE.
      "residual_rms": {
        k: residual_rms(cfg, pde, trainable, frozen, mu, p, loss_cfg, key)
        for k, p in (("train", points), ("fresh", train_batch(pde, data, seed + 1)))
      },
    }
  with timed("write"):
    checkpoint.save_phase2(workdir, solver.config, pde, mu, trainable, frozen, info["steps"])
    out = {
      "mu": mu.tolist(),
      "optimizer": optimizer,
      "source": str(source),
      "rank_mode": rank_mode,
      "trajectory": info["trajectory"],
      "final": final,
    }
    write_json_atomic(os.path.join(workdir, RESULT_FILE), out)
  log(
    f"[finetune] {info['steps']} steps in {info['seconds']:.2f} s ({info['stopped']}): "
    f"abs_err {final['abs_err']:.5f} rel_err {final['rel_err']:.5f} ranks {final['ranks']} "
    f"trainable {final['trainable_params']} residual rms train "
    f"{final['residual_rms']['train']:.3g} fresh {final['residual_rms']['fresh']:.3g}"
  )
  return out
