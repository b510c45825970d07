"""The end-to-end experiment behind `python -m experiments.convection`: Phase 1 over a grid of mu,
zero-shot evaluation and Phase 2 (adaptive and/or full rank) for each target, results.json."""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from typing import Callable, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax import phase2, train
from lrpinn_jax.data import DataConfig, test_set, train_batch
from lrpinn_jax.errors import UserError
from lrpinn_jax.metrics import errors
from lrpinn_jax.model import ModelConfig, hyper_s, ranks_of
from lrpinn_jax.pde import make_pde
from lrpinn_jax.phase1 import LossConfig, predict
from lrpinn_jax.phase2 import RANK_MODES

RESULTS_FILE = "results.json"


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Everything a run depends on; written verbatim under "config" in results.json."""
  workdir: str
  train_mu: Tuple[Tuple[float, float, float], ...]
  targets: Tuple[Tuple[float, float, float], ...]
  pde: str = "convection"
  init_cond: str = "sin_1"
  phase1_steps: int = 20000
  phase2_steps: int = 10000
  lr: float = 2.5e-4
  phase2_lr: Optional[float] = None  # None: same as lr
  seed: int = 0
  rank_mode: str = "both"
  resume: bool = False
  n_f: int = 1000
  n_0: int = 256
  n_b: int = 100
  n_test: int = 1000
  log_every: int = 500
  ckpt_every: int = 2000
  ortho: str = "paper"
  phase2_optimizer: str = "adam"
  deriv_mode: str = "jvp"
  normalize_mu: bool = False
  periodic_x: bool = False
  lr_schedule: str = "constant"
  causal_eps: float = 0.0
  resample: bool = False

  def validate(self):
    self.data.validate()
    if self.rank_mode not in RANK_MODES + ("both",):
      raise UserError(f"--rank_mode must be adaptive, full or both, got {self.rank_mode!r}")
    for name in ("phase1_steps", "phase2_steps"):
      if getattr(self, name) < 0:
        raise UserError(f"--{name} must be >= 0, got {getattr(self, name)}")
    for name in ("log_every", "ckpt_every"):
      if getattr(self, name) < 1:
        raise UserError(f"--{name} must be >= 1, got {getattr(self, name)}")
    for name in ("lr", "phase2_lr"):
      v = getattr(self, name)
      if v is not None and not (np.isfinite(v) and v > 0):
        raise UserError(f"--{name} must be a positive finite number, got {v}")
    if self.lr_schedule not in train.LR_SCHEDULES:
      raise UserError(f"--lr_schedule must be one of {train.LR_SCHEDULES}")
    if not (np.isfinite(self.causal_eps) and self.causal_eps >= 0):
      raise UserError(f"--causal_eps must be a finite number >= 0, got {self.causal_eps}")
    if self.phase2_optimizer not in train.PHASE2_OPTIMIZERS:
      raise UserError(f"--phase2_optimizer must be one of {train.PHASE2_OPTIMIZERS}")
    if not self.train_mu:
      raise UserError("no training mu")

  @property
  def data(self) -> DataConfig:
    return DataConfig(self.n_f, self.n_0, self.n_b, self.n_test)

  @property
  def modes(self) -> Sequence[str]:
    return RANK_MODES if self.rank_mode == "both" else (self.rank_mode,)

  def model_config(self) -> ModelConfig:
    pde = make_pde(self.pde, self.init_cond)
    period = float(pde.x_range[1] - pde.x_range[0]) if self.periodic_x else 0.0
    if not self.normalize_mu:
      return ModelConfig(x_period=period)
    mus = np.asarray(self.train_mu, np.float64)
    lo, hi = mus.min(0), mus.max(0)
    shift = (lo + hi) / 2
    scale = np.where(hi > lo, (hi - lo) / 2, 1.0)
    return ModelConfig(mu_shift=tuple(map(float, shift)), mu_scale=tuple(map(float, scale)),
                       x_period=period)

  def loss_config(self) -> LossConfig:
    pde = make_pde(self.pde, self.init_cond)
    need_xx = pde.needs_uxx(np.asarray(self.train_mu + self.targets))
    return LossConfig(deriv_mode=self.deriv_mode, need_xx=need_xx, ortho_form=self.ortho,
                      causal_eps=self.causal_eps, resample=self.resample)


def mu_grid(ranges: Sequence[Tuple[float, float]], steps: Sequence[float]) -> np.ndarray:
  """Cartesian grid over (beta, nu, rho) ranges, inclusive ends: (n, 3)."""
  axes = []
  for (lo, hi), st in zip(ranges, steps):
    n = int(np.floor((hi - lo) / st + 1e-9)) + 1 if hi > lo else 1
    axes.append(lo + st * np.arange(n))
  g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
  return np.round(g, 10)


def write_json_atomic(path: str, obj) -> None:
  """Write JSON to a temp file and rename, so a crash never leaves a half-written file."""
  d = os.path.dirname(os.path.abspath(path))
  os.makedirs(d, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    json.dump(obj, f, indent=1)
  os.replace(tmp, path)


def _table(rows) -> str:
  head = f"{'mu':>22} | {'mode':>9} | {'abs_err':>9} | {'rel_err':>9} | {'ranks':>14} | params"
  lines = [head, "-" * len(head)]
  for r in rows:
    lines.append(f"{str(tuple(r[0])):>22} | {r[1]:>9} | {r[2]['abs_err']:9.5f} | "
                 f"{r[2]['rel_err']:9.5f} | {str(tuple(r[2]['ranks'])):>14} | "
                 f"{r[2].get('trainable_params', '')}")
  return "\n".join(lines)


def run(cfg: ExperimentConfig, flag_values: Optional[dict] = None, log: Callable = print) -> dict:
  """Runs the experiment and writes <workdir>/results.json; returns the results dict.

  flag_values: the command line as given (e.g. beta_range), stored beside the resolved config.
  """
  cfg.validate()
  pde = make_pde(cfg.pde, cfg.init_cond)
  model_cfg = cfg.model_config()
  loss_cfg = cfg.loss_config()
  train_mu = np.asarray(cfg.train_mu, np.float32)
  targets = np.asarray(cfg.targets, np.float32)
  points = train_batch(pde, cfg.data, cfg.seed)
  test_train = test_set(pde, cfg.data, train_mu, cfg.seed)
  test_targets = test_set(pde, cfg.data, targets, cfg.seed)
  log(f"[setup] {len(train_mu)} training mu, {len(targets)} targets, model {model_cfg}")

  state, p1_seconds = train.fit_phase1(
      model_cfg, pde, train_mu, points, steps=cfg.phase1_steps, lr=cfg.lr, seed=cfg.seed,
      workdir=cfg.workdir, resume=cfg.resume, lr_schedule=cfg.lr_schedule, loss_cfg=loss_cfg,
      log_every=cfg.log_every, ckpt_every=cfg.ckpt_every, test=test_train, log=log)
  params = state.params

  x_test = jnp.asarray(test_targets.x, jnp.float32)
  t_test = jnp.asarray(test_targets.t, jnp.float32)
  zero = np.asarray(jax.jit(lambda p: predict(model_cfg, p, targets, x_test, t_test))(params))
  results, table = [], []
  for i, mu in enumerate(targets):
    s = hyper_s(model_cfg, params["hyper"], jnp.asarray(mu))
    zs = {**errors(zero[i], test_targets.u[i]), "ranks": list(ranks_of(s))}
    table.append((mu.tolist(), "zero-shot", zs))
    entry = {"mu": mu.tolist(), "zero_shot": zs, "phase2": {}}
    for mode in cfg.modes:
      trainable, frozen, info = train.fit_phase2(
          model_cfg, pde, params, mu, points, steps=cfg.phase2_steps,
          lr=cfg.phase2_lr or cfg.lr, rank_mode=mode, optimizer=cfg.phase2_optimizer,
          loss_cfg=loss_cfg, log_every=max(cfg.log_every, cfg.phase2_steps // 5 or 1), log=log)
      u = phase2.predict(model_cfg, trainable, frozen, x_test, t_test)
      entry["phase2"][mode] = {
          **errors(u, test_targets.u[i]),
          "ranks": [int(jnp.sum(v != 0)) for v in trainable["s"]],
          "steps": info["steps"], "seconds": info["seconds"],
          "trainable_params": phase2.trainable_count(trainable)}
      table.append((mu.tolist(), mode, entry["phase2"][mode]))
    results.append(entry)

  out = {"config": {**(flag_values or {}), **dataclasses.asdict(cfg)},
         "phase1": {"steps": int(state.step), "seconds": p1_seconds,
                    "train_mu": train_mu.tolist()},
         "results": results}
  write_json_atomic(os.path.join(cfg.workdir, RESULTS_FILE), out)
  log(_table(table))
  log(f"[done] wrote {os.path.join(cfg.workdir, RESULTS_FILE)}")
  return out
