"""The end-to-end experiment behind `python -m experiments.convection` (and .cdr, .helmholtz):
Phase 1 over a grid of mu, zero-shot evaluation and Phase 2 (adaptive and/or full rank) for each
target, results.json. Any PDE of lrpinn_jax.pdes.registry."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import phase2, sharding, train
from lrpinn_jax.fit.data import DataConfig, test_set, train_batch
from lrpinn_jax.fit.phase1 import MU_SAMPLINGS, LossConfig, predict
from lrpinn_jax.fit.phase2 import RANK_MODES
from lrpinn_jax.metrics import problem_errors
from lrpinn_jax.nn.model import ModelConfig, hyper_s, ranks_of
from lrpinn_jax.pdes import mu_sets
from lrpinn_jax.pdes.cdr import CDRProblem
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.precision import np_real, real
from lrpinn_jax.problem import Initial, Periodic
from lrpinn_jax.query import many_query

RESULTS_FILE = "results.json"


# Largest jump of u0' across the periodic boundary that --hard_ic --periodic accept with diffusion.
KINK_TOL = 1e-2


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
  """Everything a run depends on; written verbatim under "config" in results.json."""

  workdir: str
  train_mu: Tuple[Tuple[float, ...], ...]  # (n_train, pde.mu_dim)
  targets: Tuple[Tuple[float, ...], ...]  # (n_targets, pde.mu_dim)
  pde: str = "convection"
  init_cond: str = "sin_1"
  recipe: str = ""  # the lrpinn_jax.fit.recipes name the settings came from ("": set by hand)
  phase1_steps: int = 20000
  phase2_steps: int = 10000
  lr: float = 2.5e-4
  phase2_lr: Optional[float] = None  # None: same as lr
  seed: int = 0
  rank_mode: str = "both"
  resume: bool = False
  n_f: int = 1000
  phase2_n_f: Optional[int] = None  # Phase-2 collocation points (one draw); None: n_f
  n_0: int = 256
  n_b: int = 100
  n_test: int = 1000
  log_every: int = 500
  ckpt_every: int = 2000
  ortho: str = "paper"
  phase2_optimizer: str = "adam"
  deriv_mode: str = "jvp"
  normalize_mu: bool = False
  periodic: bool = False  # every coordinate with a Periodic condition seen through cos, sin
  lr_schedule: str = "constant"
  optimizer: str = "adam"  # Phase-1 optimizer: adam (paper) or soap (lrpinn_jax.fit.soap)
  causal_eps: float = 0.0
  resample: bool = False
  mu_batch: int = 0
  mu_sampling: str = "uniform"  # "family": mu_batch draws give each sub-family the same chance
  # LM only: all targets in one vmapped call (lrpinn_jax.query.many_query)
  phase2_batched: bool = False
  hard_ic: bool = False  # u = u0(z; mu) + (t - t0) N(z): the Initial held (ModelConfig.hard_ic)
  sine_start: float = 0.0  # > 0: first layer sin(omega (W0 z + b0)) (ModelConfig.sine_start)
  s_init: float = 0.0  # > 0: s(mu) = s_init for every mu at initialisation (ModelConfig.s_init)
  t_scale: float = 1.0  # the network sees t_scale * t (ModelConfig.t_scale)
  loss_weights: str = ""  # Phase-1 loss-term weights "bc=10,ic=1" (LossConfig.weights)
  s_l1_steps: int = 0  # > 0: the s_l1 pressure on Phase-1 steps below it only (LossConfig)
  rank_tol: float = 0.0  # > 0: s(mu) truncated to the rank it needs (ModelConfig.rank_tol)
  devices: int = 0  # Phase 1 split over mu across this many devices (0: all JAX sees)

  def validate(self):
    self.data.validate()
    self.phase2_data.validate()
    pde = make_pde(self.pde, self.init_cond)
    if not self.train_mu:
      raise UserError("no training mu")
    for name in ("train_mu", "targets"):
      mus = np.asarray(getattr(self, name), np.float64)
      if mus.size and (mus.ndim != 2 or mus.shape[1] != pde.mu_dim):
        raise UserError(f"{name}: each mu needs {pde.mu_dim} numbers {pde.mu_names}")
      if mus.size and not np.all(np.isfinite(mus)):
        raise UserError(f"{name}: mu must be finite")
      pde.check_mu(mus)
    pde.check()
    if self.deriv_mode != "jvp":
      raise UserError(
        f"--deriv_mode={self.deriv_mode} was removed: derivatives are forward mode "
        f"(jvp), which measured faster"
      )
    if self.hard_ic and pde.initial_condition() is None:
      raise UserError(
        f"--hard_ic needs exactly one Initial condition; {self.pde!r} has "
        f"{sum(isinstance(c, Initial) for c in pde.conditions)}"
      )
    if self.periodic and not any(periods(pde)):
      raise UserError(f"--periodic needs a Periodic condition; {self.pde!r} has none")
    if self.periodic and self.t_scale != 1.0 and any(periods(pde)[1:]):
      raise UserError(
        "--t_scale scales every coordinate after the first, which breaks the "
        "periodic embedding of a later coordinate; drop one of the two flags"
      )
    if self.causal_eps and pde.time is None:
      raise UserError(f"--causal_eps needs a time coordinate; {self.pde!r} has none")
    if self.hard_ic and self.periodic and pde.needs_uxx(np.asarray(self.train_mu + self.targets)):
      jump = pde.u0_slope_jump() if isinstance(pde, CDRProblem) else 0.0
      if abs(jump) > KINK_TOL:
        raise UserError(
          f"--hard_ic with --periodic cannot fit diffusion from {self.init_cond!r}: "
          f"u0' jumps by {jump:.3g} across the periodic boundary and u = u0 + t N "
          f"keeps that kink for all t; drop one of the two flags"
        )
    for name in ("sine_start", "s_init", "rank_tol"):
      v = getattr(self, name)
      if not (np.isfinite(v) and v >= 0):
        raise UserError(f"--{name} must be a finite number >= 0, got {v}")
    if self.rank_tol >= 1:
      raise UserError(f"--rank_tol must be below 1 (1 drops every rank), got {self.rank_tol}")
    if not (np.isfinite(self.t_scale) and self.t_scale > 0):
      raise UserError(f"--t_scale must be a positive finite number, got {self.t_scale}")
    if self.s_l1_steps and not dict(self.loss_config().weights).get("s_l1"):
      raise UserError("--s_l1_steps schedules the rank pressure: give it --loss_weights=s_l1=W")
    if not 0 <= self.mu_batch <= len(self.train_mu):
      raise UserError(
        f"--mu_batch must be between 0 (all) and the number of training mu "
        f"({len(self.train_mu)}), got {self.mu_batch}"
      )
    if self.mu_sampling not in MU_SAMPLINGS:
      raise UserError(
        f"--mu_sampling must be one of {', '.join(MU_SAMPLINGS)}, got {self.mu_sampling!r}"
      )
    if self.seed < 0:
      raise UserError(f"--seed must be >= 0, got {self.seed}")
    if self.phase2_batched and self.phase2_optimizer not in train.LM_OPTIMIZERS:
      raise UserError("--phase2_batched needs --phase2_optimizer=lm or lm_geodesic")
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
    if self.optimizer not in train.PHASE1_OPTIMIZERS:
      raise UserError(f"--optimizer must be one of {tuple(train.PHASE1_OPTIMIZERS)}")
    if self.lr_schedule not in train.LR_SCHEDULES:
      raise UserError(f"--lr_schedule must be one of {train.LR_SCHEDULES}")
    if not (np.isfinite(self.causal_eps) and self.causal_eps >= 0):
      raise UserError(f"--causal_eps must be a finite number >= 0, got {self.causal_eps}")
    if self.phase2_optimizer not in train.PHASE2_OPTIMIZERS:
      raise UserError(f"--phase2_optimizer must be one of {train.PHASE2_OPTIMIZERS}")

  @property
  def data(self) -> DataConfig:
    return DataConfig(self.n_f, self.n_0, self.n_b, self.n_test)

  @property
  def phase2_data(self) -> DataConfig:
    """Phase 2 keeps one draw of points for all its steps: with ~280 trainable numbers, 1,000
    of them can be fitted while the residual between them grows (results/cdr_family_1_5)."""
    return dataclasses.replace(self.data, n_f=self.phase2_n_f or self.n_f)

  @property
  def modes(self) -> Sequence[str]:
    return RANK_MODES if self.rank_mode == "both" else (self.rank_mode,)

  def model_config(self) -> ModelConfig:
    pde = make_pde(self.pde, self.init_cond)
    n = pde.mu_dim
    extra = {"hard_ic": pde.initial_condition().name} if self.hard_ic else {}
    extra["n_in"] = len(pde.domain)
    extra["n_out"] = len(pde.fields)
    extra["sine_start"] = float(self.sine_start)
    extra["s_init"] = float(self.s_init)
    extra["t_scale"] = float(self.t_scale)
    extra["rank_tol"] = float(self.rank_tol)
    extra["periods"] = periods(pde) if self.periodic else ()
    if not self.normalize_mu:
      return ModelConfig(mu_dim=n, mu_shift=(0.0,) * n, mu_scale=(1.0,) * n, **extra)
    mus = np.asarray(self.train_mu, np.float64)
    lo, hi = mus.min(0), mus.max(0)
    shift = (lo + hi) / 2
    scale = np.where(hi > lo, (hi - lo) / 2, 1.0)
    return ModelConfig(
      mu_shift=tuple(map(float, shift)), mu_scale=tuple(map(float, scale)), mu_dim=n, **extra
    )

  def loss_config(self) -> LossConfig:
    pde = make_pde(self.pde, self.init_cond)
    need_xx = pde.needs_uxx(np.asarray(self.train_mu + self.targets))
    return LossConfig(
      deriv_mode=self.deriv_mode,
      need_xx=need_xx,
      ortho_form=self.ortho,
      causal_eps=self.causal_eps,
      resample=self.resample,
      mu_batch=self.mu_batch,
      mu_sampling=self.mu_sampling,
      weights=parse_weights(self.loss_weights, pde, need_xx),
      s_l1_steps=self.s_l1_steps,
    )


def periods(pde) -> Tuple[float, ...]:
  """One entry per coordinate: its box length where the problem has a Periodic condition in it
  (the network may see it through cos and sin of that period, ModelConfig.periods), else 0."""
  periodic = {c.coord for c in pde.conditions if isinstance(c, Periodic)}
  return tuple(
    float(hi - lo) if name in periodic else 0.0
    for name, (lo, hi) in zip(pde.coord_names, pde.domain)
  )


def parse_weights(text: str, pde, need_xx: bool = True) -> Tuple[Tuple[str, float], ...]:
  """'bc=10,ic=2' -> (("bc", 10.0), ("ic", 2.0)); names are the run's loss terms (the PDE's
  residual blocks, which depend on need_xx), "ortho" or "s_l1" (phase1.OFF_BY_DEFAULT)."""
  points = pde.sample_points(DataConfig(1, 1, 1, 1), 0)  # only the block names are needed
  names = tuple(name for name, _, _ in pde.blocks(points, need_xx=need_xx)) + ("ortho", "s_l1")
  out = []
  for item in filter(None, (v.strip() for v in text.split(","))):
    name, sep, value = item.partition("=")
    try:
      w = float(value) if sep else float("nan")
    except ValueError:
      w = float("nan")
    if name not in names or not (np.isfinite(w) and w >= 0):
      raise UserError(
        f"--loss_weights: expected name=weight pairs with name in {names} and a "
        f"finite weight >= 0, got {item!r}"
      )
    out.append((name, w))
  return tuple(out)


def mu_grid(ranges: Sequence[Tuple[float, float]], steps: Sequence[float]) -> np.ndarray:
  """Cartesian grid over per-coordinate ranges of mu, inclusive ends: (n, len(ranges))."""
  axes = []
  for (lo, hi), st in zip(ranges, steps):
    n = int(np.floor((hi - lo) / st + 1e-9)) + 1 if hi > lo else 1
    axes.append(lo + st * np.arange(n))
  g = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
  return np.round(g, 10)


def write_json_atomic(path: str, obj, indent: Optional[int] = 1) -> None:
  """Write JSON to a temp file and rename, so a crash never leaves a half-written file.
  indent: None writes it on one line (large machine-read files)."""
  d = os.path.dirname(os.path.abspath(path))
  os.makedirs(d, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    json.dump(obj, f, indent=indent)
  os.replace(tmp, path)


def _table(rows) -> str:
  """One line per (mu, mode); a system adds the relative error of each error group and field."""
  head = f"{'mu':>22} | {'mode':>9} | {'abs_err':>9} | {'rel_err':>9} | {'ranks':>14} | params"
  lines = [head, "-" * len(head)]
  for r in rows:
    parts = {k: v for k, v in r[2].items() if isinstance(v, dict) and "rel_err" in v}
    parts.update(r[2].get("fields", {}))
    extra = "  ".join(f"{k} {v['rel_err']:.5f}" for k, v in parts.items())
    lines.append(
      f"{str(tuple(r[0])):>22} | {r[1]:>9} | {r[2]['abs_err']:9.5f} | "
      f"{r[2]['rel_err']:9.5f} | {str(tuple(r[2]['ranks'])):>14} | "
      f"{r[2].get('trainable_params', '')}" + (f" | {extra}" if extra else "")
    )
  return "\n".join(lines)


def _phase2_one(cfg, model_cfg, pde, params, mu, points, loss_cfg, mode, test, log) -> dict:
  """Phase 2 for one target: errors on the test set, ranks, steps, seconds, trainable count."""
  coords, u_true = test
  trainable, frozen, info = train.fit_phase2(
    model_cfg,
    pde,
    params,
    mu,
    points,
    steps=cfg.phase2_steps,
    lr=cfg.phase2_lr or cfg.lr,
    rank_mode=mode,
    optimizer=cfg.phase2_optimizer,
    loss_cfg=loss_cfg,
    log_every=max(cfg.log_every, cfg.phase2_steps // 5 or 1),
    log=log,
  )
  u = phase2.predict(model_cfg, trainable, frozen, *coords, pde=pde, mu=mu)
  return {
    **problem_errors(pde, u, u_true),
    "ranks": [int(jnp.sum(v != 0)) for v in trainable["s"]],
    "steps": info["steps"],
    "seconds": info["seconds"],
    "trainable_params": phase2.trainable_count(trainable),
  }


def _phase2_batched(
  cfg, model_cfg, pde, params, targets, points, loss_cfg, mode, test, log
) -> list:
  """LM Phase 2 for all targets in one vmapped call; "seconds" is the batch's wall time shared
  equally (also stored whole as "batch_seconds")."""
  res = many_query.run_many(
    model_cfg,
    pde,
    params,
    targets,
    points,
    steps=cfg.phase2_steps,
    rank_mode=mode,
    loss_cfg=loss_cfg,
    lm_cfg=train.LM_OPTIMIZERS[cfg.phase2_optimizer],
  )
  coords = [jnp.asarray(a, real()) for a in test.coords]
  u = np.asarray(
    many_query.predict_many(model_cfg, res.trainable, res.frozen, *coords, pde=pde, mus=targets)
  )
  counts = many_query.trainable_counts(res.trainable, res.frozen)
  log(
    f"[phase2 {cfg.phase2_optimizer} {mode}] {len(targets)} targets in one batched call: "
    f"{res.seconds:.1f} s"
  )
  return [
    {
      **problem_errors(pde, u[i], test.u[i]),
      "ranks": [int(np.asarray(m[i]).sum()) for m in res.frozen["mask"]],
      "steps": cfg.phase2_steps,
      "seconds": res.seconds / len(targets),
      "batch_seconds": res.seconds,
      "trainable_params": int(counts[i]),
    }
    for i in range(len(targets))
  ]


def summarize(results: list) -> dict:
  """Mean and worst (max) relative L2 error over all targets, zero-shot and per Phase-2 mode;
  for a system also per field ("fields") and per error group (metrics.problem_errors)."""

  def stats(rows):
    rel = np.array([r["rel_err"] for r in rows])
    worst = int(np.argmax(rel))
    out = {
      "mean_rel_err": float(rel.mean()),
      "max_rel_err": float(rel[worst]),
      "worst_mu": results[worst]["mu"],
      "mean_abs_err": float(np.mean([r["abs_err"] for r in rows])),
    }
    parts = {
      k: [r[k] for r in rows] for k, v in rows[0].items() if isinstance(v, dict) and k != "fields"
    }
    parts.update({f: [r["fields"][f] for r in rows] for f in rows[0].get("fields", {})})
    for name, group in parts.items():
      rel = np.array([g["rel_err"] for g in group])
      out[name] = {
        "mean_rel_err": float(rel.mean()),
        "max_rel_err": float(rel.max()),
        "worst_mu": results[int(np.argmax(rel))]["mu"],
      }
    return out

  out = {"zero_shot": stats([e["zero_shot"] for e in results])}
  for mode in results[0]["phase2"] if results else ():
    out[mode] = stats([e["phase2"][mode] for e in results])
  return out


def summarize_by_family(results: list) -> dict:
  """``summarize`` per CDR sub-family of the targets (lrpinn_jax.pdes.mu_sets.family), with
  "count"."""
  groups = mu_sets.by_family([e["mu"] for e in results])
  return {
    name: {"count": len(idx), **summarize([results[i] for i in idx])}
    for name, idx in groups.items()
  }


def run(cfg: ExperimentConfig, flag_values: Optional[dict] = None, log: Callable = print) -> dict:
  """Runs the experiment and writes <workdir>/results.json; returns the results dict.

  flag_values: the command line as given (e.g. beta_range), stored beside the resolved config.
  """
  cfg.validate()
  main = jax.process_index() == 0
  if not main:  # several processes: all train, only the first prints and writes results.json
    log = lambda *a, **k: None
  pde = make_pde(cfg.pde, cfg.init_cond)
  model_cfg = cfg.model_config()
  loss_cfg = cfg.loss_config()
  train_mu = np.asarray(cfg.train_mu, np_real())
  targets = np.asarray(cfg.targets, np_real())
  points = train_batch(pde, cfg.data, cfg.seed)
  test_train = test_set(pde, cfg.data, train_mu, cfg.seed)
  same = train_mu.shape == targets.shape and np.array_equal(train_mu, targets)
  test_targets = test_train if same else test_set(pde, cfg.data, targets, cfg.seed)
  log(f"[setup] {len(train_mu)} training mu, {len(targets)} targets, model {model_cfg}")

  mesh = sharding.mu_mesh(cfg.devices)
  if mesh.size > 1:
    log(
      f"[setup] Phase 1 split over mu across {mesh.size} devices "
      f"({jax.process_count()} process(es), {mesh.devices.flat[0].platform})"
    )
  restored = cfg.resume and train.latest_step(cfg.workdir) == cfg.phase1_steps
  state, p1_seconds = train.fit_phase1(
    model_cfg,
    pde,
    train_mu,
    points,
    steps=cfg.phase1_steps,
    lr=cfg.lr,
    seed=cfg.seed,
    workdir=cfg.workdir,
    resume=cfg.resume,
    lr_schedule=cfg.lr_schedule,
    optimizer=cfg.optimizer,
    loss_cfg=loss_cfg,
    log_every=cfg.log_every,
    ckpt_every=cfg.ckpt_every,
    test=test_train,
    log=log,
    mesh=mesh,
  )
  # Evaluation and Phase 2 run on each process's default device from host copies.
  params = jax.tree.map(np.asarray, jax.device_get(state.params))

  coords = [jnp.asarray(a, real()) for a in test_targets.coords]
  zero = np.asarray(jax.jit(lambda p: predict(model_cfg, p, targets, *coords, pde=pde))(params))
  results: List[Dict[str, Any]] = []
  table: list = []
  for i, mu in enumerate(targets):
    s = hyper_s(model_cfg, params["hyper"], jnp.asarray(mu))
    zs = {**problem_errors(pde, zero[i], test_targets.u[i]), "ranks": list(ranks_of(s))}
    results.append({"mu": [float(v) for v in cfg.targets[i]], "zero_shot": zs, "phase2": {}})
  if cfg.phase2_data != cfg.data:
    points = train_batch(pde, cfg.phase2_data, cfg.seed)
  for mode in cfg.modes:
    if cfg.phase2_batched:
      rows = _phase2_batched(
        cfg, model_cfg, pde, params, targets, points, loss_cfg, mode, test_targets, log
      )
    else:
      rows = [
        _phase2_one(
          cfg, model_cfg, pde, params, mu, points, loss_cfg, mode, (coords, test_targets.u[i]), log
        )
        for i, mu in enumerate(targets)
      ]
    for entry, row in zip(results, rows):
      entry["phase2"][mode] = row
  for entry in results:
    table.append((entry["mu"], "zero-shot", entry["zero_shot"]))
    table.extend((entry["mu"], mode, row) for mode, row in entry["phase2"].items())

  out = {
    "config": {**(flag_values or {}), **dataclasses.asdict(cfg)},
    "phase1": {
      "steps": int(state.step),
      "seconds": p1_seconds,
      "restored": bool(restored),
      "train_mu": [list(map(float, m)) for m in cfg.train_mu],
    },
    "results": results,
    "summary": summarize(results),
  }
  if isinstance(pde, CDRProblem) and len(mu_sets.by_family(cfg.targets)) > 1:
    out["summary_by_family"] = summarize_by_family(results)
  if main:
    write_json_atomic(os.path.join(cfg.workdir, RESULTS_FILE), out)
  log(_table(table))
  log(f"[done] wrote {os.path.join(cfg.workdir, RESULTS_FILE)}")
  return out
