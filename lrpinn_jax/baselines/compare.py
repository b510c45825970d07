"""One comparison of Hyper-LR-PINN with the paper's baselines on the same PDE, training points,
test points and step budget (``python -m experiments.compare``).

Budgets (all Adam unless said): methods trained per target from scratch (pinn, s2s, curriculum,
naive_lr) get ``steps`` steps per target; methods with a shared pre-training (pinn_p, maml, reptile,
hyper_lr) get ``steps`` pre-training steps (meta methods: ``meta_steps`` outer steps) and then
``finetune_steps`` fine-tuning steps per target. steps_to_0.05 is the number of (fine-tune or
per-target) steps after which the mean absolute test error is <= 0.05, checked every
``eval_every`` steps (None: not reached within the budget); seconds_to_0.05 (pinn, naive_lr,
the pre-trained methods' fine-tuning and hyper_lr) the training seconds up to that check,
compilation included, evaluations not.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Callable, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.baselines import curriculum, meta, nets, s2s
from lrpinn_jax.baselines.fit import TARGET_ABS_ERR, abs_error_fn, fit, pinn_loss
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import phase1, phase2, train
from lrpinn_jax.fit.data import DataConfig, test_set, train_batch
from lrpinn_jax.fit.experiment import write_json_atomic
from lrpinn_jax.fit.finetune import load_phase1
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.metrics import errors
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.pdes.registry import make_pde

METHODS = ("pinn", "pinn_p", "s2s", "curriculum", "naive_lr", "maml", "reptile", "hyper_lr")
RESULT_JSON, RESULT_MD = "compare.json", "compare.md"


@dataclasses.dataclass(frozen=True)
class CompareConfig:
  workdir: str
  train_mu: Tuple[Tuple[float, ...], ...]
  targets: Tuple[Tuple[float, ...], ...]
  methods: Tuple[str, ...] = METHODS
  pde: str = "convection"
  init_cond: str = "sin_1"
  steps: int = 10000
  finetune_steps: int = 1000
  lr: float = 1e-3
  seed: int = 0
  eval_every: int = 100
  naive_ranks: Tuple[int, ...] = (30,)
  meta_rank: int = 30
  meta_steps: int = 1000
  inner_steps: int = 5
  inner_lr: float = 1e-3
  task_batch: int = 4
  s2s_segments: int = 5
  curriculum_stages: int = 5
  hyper_checkpoint: Optional[str] = None
  hyper_optimizer: str = "lm"
  n_f: int = 1000
  n_0: int = 256
  n_b: int = 100
  n_test: int = 1000

  def validate(self):
    DataConfig(self.n_f, self.n_0, self.n_b, self.n_test).validate()
    bad = [m for m in self.methods if m not in METHODS + ("maml_fo",)]
    if bad or not self.methods:
      raise UserError(f"--methods: unknown {bad}; choose from {','.join(METHODS)}")
    for name in (
      "steps",
      "finetune_steps",
      "meta_steps",
      "inner_steps",
      "eval_every",
      "task_batch",
      "s2s_segments",
      "curriculum_stages",
      "meta_rank",
    ):
      if getattr(self, name) < (0 if name in ("steps", "finetune_steps", "meta_steps") else 1):
        raise UserError(
          f"--{name} must be a {'non-negative' if 'steps' in name else 'positive'}"
          f" integer, got {getattr(self, name)}"
        )
    if not self.naive_ranks or min(self.naive_ranks) < 1:
      raise UserError("--naive_ranks must be positive integers")
    for name in ("lr", "inner_lr"):
      v = getattr(self, name)
      if not (np.isfinite(v) and v > 0):
        raise UserError(f"--{name} must be a positive finite number, got {v}")
    if self.hyper_optimizer not in train.PHASE2_OPTIMIZERS:
      raise UserError(f"--hyper_optimizer must be one of {train.PHASE2_OPTIMIZERS}")
    pde = make_pde(self.pde, self.init_cond)
    for name in ("train_mu", "targets"):
      mus = np.asarray(getattr(self, name), np.float64)
      if mus.ndim != 2 or mus.shape[1] != pde.mu_dim or not np.all(np.isfinite(mus)):
        raise UserError(f"{name}: each mu needs {pde.mu_dim} finite numbers {pde.mu_names}")
      pde.check_mu(mus)

  @property
  def data(self) -> DataConfig:
    return DataConfig(self.n_f, self.n_0, self.n_b, self.n_test)


class _Ctx:
  """What every method shares: the PDE, points, test sets, normalisation of mu."""

  def __init__(self, cfg: CompareConfig):
    self.cfg = cfg
    self.pde = make_pde(cfg.pde, cfg.init_cond)
    self.points_np = train_batch(self.pde, cfg.data, cfg.seed)
    self.points = jax.tree.map(jnp.asarray, self.points_np)
    self.train_mu = np.asarray(cfg.train_mu, np.float32)
    self.targets = np.asarray(cfg.targets, np.float32)
    self.test = test_set(self.pde, cfg.data, self.targets, cfg.seed)
    self.need_xx = self.pde.needs_uxx(np.concatenate([self.train_mu, self.targets]))
    lo, hi = self.train_mu.min(0), self.train_mu.max(0)
    self.mu_shift = tuple(map(float, (lo + hi) / 2))
    self.mu_scale = tuple(float(v) for v in np.where(hi > lo, (hi - lo) / 2, 1.0))

  def eval_fn(self, net, i):
    return abs_error_fn(net, self.targets[i], self.test.x, self.test.t, self.test.u[i])

  def row(self, i, u_pred, trainable, seconds, steps_to, **extra):
    e = errors(np.asarray(u_pred), self.test.u[i])
    return {
      "mu": [float(v) for v in self.cfg.targets[i]],
      "abs_err": e["abs_err"],
      "rel_err": e["rel_err"],
      "trainable_params": int(trainable),
      "seconds": seconds,
      "steps_to_0.05": steps_to,
      **extra,
    }

  def predict(self, net, params, i):
    x, t = (jnp.asarray(a, jnp.float32) for a in (self.test.x, self.test.t))
    return jax.vmap(net.apply(params, jnp.asarray(self.targets[i])))(x, t)


def _fit_row(ctx: _Ctx, net, loss, params0, i: int, steps: int, **extra) -> dict:
  """Adam from ``params0`` at target i for ``steps`` steps (``fit``), and the target's row."""
  params, info = fit(
    loss,
    params0,
    ctx.targets[i],
    steps=steps,
    lr=ctx.cfg.lr,
    eval_fn=ctx.eval_fn(net, i),
    eval_every=ctx.cfg.eval_every,
  )
  return ctx.row(
    i,
    ctx.predict(net, params, i),
    net.paper_count(params),
    info["seconds"],
    info["steps_to_target"],
    total_params=nets.count(params),
    **extra,
    **{"seconds_to_0.05": info["seconds_to_target"]},
  )


def _per_target(ctx: _Ctx, net, log) -> dict:
  """A network trained from scratch at each target (pinn, naive_lr)."""
  cfg, rows = ctx.cfg, []
  loss = pinn_loss(net, ctx.pde, ctx.points, ctx.need_xx)
  for i, mu in enumerate(ctx.targets):
    rows.append(_fit_row(ctx, net, loss, net.init(jax.random.key(cfg.seed)), i, cfg.steps))
    log(
      f"[{net.name}] mu={mu.tolist()} rel_err {rows[-1]['rel_err']:.4f} "
      f"({rows[-1]['seconds']:.1f} s)"
    )
  return {"targets": rows}


def _finetune_rows(ctx: _Ctx, net, params0, name, log, pretrain_seconds) -> dict:
  """Zero-shot (pre-trained) errors, then ``finetune_steps`` Adam steps at each target."""
  cfg, rows = ctx.cfg, []
  loss = pinn_loss(net, ctx.pde, ctx.points, ctx.need_xx)
  for i, mu in enumerate(ctx.targets):
    zero = errors(np.asarray(ctx.predict(net, params0, i)), ctx.test.u[i])
    rows.append(
      _fit_row(ctx, net, loss, params0, i, cfg.finetune_steps, zero_shot_rel_err=zero["rel_err"])
    )
    log(
      f"[{name}] mu={mu.tolist()} zero-shot {zero['rel_err']:.4f} -> fine-tuned "
      f"{rows[-1]['rel_err']:.4f}"
    )
  return {"targets": rows, "pretrain_seconds": pretrain_seconds}


def _pinn_p(ctx: _Ctx, log) -> dict:
  cfg = ctx.cfg
  net = nets.pinn_p(ctx.pde.mu_dim, ctx.mu_shift, ctx.mu_scale)
  loss = pinn_loss(net, ctx.pde, ctx.points, ctx.need_xx)
  mus = jnp.asarray(ctx.train_mu)
  mean_loss = lambda p, ms: jnp.mean(jax.vmap(lambda m: loss(p, m))(ms))
  params, info = fit(mean_loss, net.init(jax.random.key(cfg.seed)), mus, steps=cfg.steps, lr=cfg.lr)
  log(f"[pinn_p] pre-trained over {len(mus)} mu in {info['seconds']:.1f} s")
  return _finetune_rows(ctx, net, params, "pinn_p", log, info["seconds"])


def _s2s(ctx: _Ctx, log) -> dict:
  cfg, rows = ctx.cfg, []
  net = nets.pinn()
  bounds = s2s.segment_bounds(ctx.pde, cfg.s2s_segments)
  x, t = ctx.test.x, ctx.test.t
  for i, mu in enumerate(ctx.targets):
    u_true = jnp.asarray(ctx.test.u[i], jnp.float32)
    ev = lambda plist, mu=mu, u_true=u_true: jnp.mean(
      jnp.abs(s2s.predict(net, plist, bounds, mu, x, t) - u_true)
    )
    plist, info = s2s.train(
      net,
      ctx.pde,
      mu,
      cfg.data,
      cfg.seed,
      segments=cfg.s2s_segments,
      steps=cfg.steps,
      lr=cfg.lr,
      need_xx=ctx.need_xx,
      eval_fn=ev,
      eval_every=cfg.eval_every,
    )
    u = s2s.predict(net, plist, bounds, mu, x, t)
    rows.append(
      ctx.row(
        i,
        u,
        sum(nets.count(p) for p in plist),
        info["seconds"],
        info["steps_to_target"],
        segments=cfg.s2s_segments,
      )
    )
    log(f"[s2s] mu={mu.tolist()} rel_err {rows[-1]['rel_err']:.4f}")
  return {"targets": rows}


def _curriculum(ctx: _Ctx, log) -> dict:
  cfg, rows = ctx.cfg, []
  net = nets.pinn()
  for i, mu in enumerate(ctx.targets):
    params, info = curriculum.train(
      net,
      ctx.pde,
      mu,
      ctx.points,
      cfg.seed,
      n_stages=cfg.curriculum_stages,
      steps=cfg.steps,
      lr=cfg.lr,
      need_xx=ctx.need_xx,
      eval_fn=ctx.eval_fn(net, i),
      eval_every=cfg.eval_every,
    )
    rows.append(
      ctx.row(
        i,
        ctx.predict(net, params, i),
        nets.count(params),
        info["seconds"],
        info["steps_to_target"],
        stages=cfg.curriculum_stages,
      )
    )
    log(f"[curriculum] mu={mu.tolist()} rel_err {rows[-1]['rel_err']:.4f}")
  return {"targets": rows}


def _meta(ctx: _Ctx, method: str, log) -> dict:
  cfg = ctx.cfg
  net = nets.naive_lr(cfg.meta_rank)
  query_pts = jax.tree.map(jnp.asarray, train_batch(ctx.pde, cfg.data, cfg.seed + 1))
  support = pinn_loss(net, ctx.pde, ctx.points, ctx.need_xx)
  query = pinn_loss(net, ctx.pde, query_pts, ctx.need_xx)
  params, info = meta.meta_train(
    method,
    net.init(jax.random.key(cfg.seed)),
    support,
    query,
    ctx.train_mu,
    steps=cfg.meta_steps,
    inner_steps=cfg.inner_steps,
    inner_lr=cfg.inner_lr,
    outer_lr=cfg.lr,
    task_batch=cfg.task_batch,
    seed=cfg.seed,
  )
  log(f"[{method}] meta-trained {cfg.meta_steps} steps in {info['seconds']:.1f} s")
  return _finetune_rows(ctx, net, params, method, log, info["seconds"])


def _hyper_lr(ctx: _Ctx, log) -> dict:
  cfg = ctx.cfg
  if cfg.hyper_checkpoint:
    solver = load_phase1(cfg.hyper_checkpoint)
    model_cfg, params, pre = solver.config, solver.params, None
  else:
    model_cfg = ModelConfig(mu_dim=ctx.pde.mu_dim, mu_shift=ctx.mu_shift, mu_scale=ctx.mu_scale)
    loss_cfg = LossConfig(need_xx=ctx.need_xx, resample=True)
    state, pre = train.fit_phase1(
      model_cfg,
      ctx.pde,
      ctx.train_mu,
      ctx.points_np,
      steps=cfg.steps,
      lr=cfg.lr,
      seed=cfg.seed,
      workdir=os.path.join(cfg.workdir, "hyper_lr"),
      lr_schedule="cosine",
      loss_cfg=loss_cfg,
      log_every=max(cfg.steps // 10, 1),
      ckpt_every=max(cfg.steps, 1),
      log=log,
    )
    params = state.params
  rows = []
  x, t = (jnp.asarray(a, jnp.float32) for a in (ctx.test.x, ctx.test.t))
  for i, mu in enumerate(ctx.targets):
    zero = errors(
      np.asarray(phase1.predict(model_cfg, params, mu[None], x, t, pde=ctx.pde)[0]), ctx.test.u[i]
    )
    trainable, frozen, info = train.fit_phase2(
      model_cfg,
      ctx.pde,
      params,
      mu,
      ctx.points_np,
      steps=cfg.finetune_steps,
      lr=cfg.lr,
      optimizer=cfg.hyper_optimizer,
      loss_cfg=LossConfig(need_xx=ctx.need_xx),
      eval_every=cfg.eval_every if cfg.hyper_optimizer == "adam" else 1,
      test=(ctx.test.x, ctx.test.t, ctx.test.u[i]),
      log=lambda *_: None,
    )
    u = phase2.predict(model_cfg, trainable, frozen, ctx.test.x, ctx.test.t, pde=ctx.pde, mu=mu)
    reached = next((p for p in info["trajectory"] if p["abs_err"] <= TARGET_ABS_ERR), None)
    steps_to = None if reached is None else reached["step"]
    rows.append(
      ctx.row(
        i,
        u,
        phase2.trainable_count(trainable),
        info["seconds"],
        steps_to,
        zero_shot_rel_err=zero["rel_err"],
        optimizer=cfg.hyper_optimizer,
        **{"seconds_to_0.05": None if reached is None else reached["seconds"]},
      )
    )
    log(
      f"[hyper_lr] mu={mu.tolist()} zero-shot {zero['rel_err']:.4f} -> Phase 2 "
      f"{rows[-1]['rel_err']:.4f}"
    )
  return {"targets": rows, "pretrain_seconds": pre, "checkpoint": cfg.hyper_checkpoint}


def markdown(result: dict) -> str:
  """compare.md: one row per method and target."""
  lines = [
    "| method | mu | abs err | rel err | trainable params | seconds | steps to abs 0.05 |",
    "|---|---|---|---|---|---|---|",
  ]
  for name, m in result["methods"].items():
    for r in m["targets"]:
      mu = ", ".join(f"{v:g}" for v in r["mu"])
      st = r["steps_to_0.05"] if r["steps_to_0.05"] is not None else "not reached"
      lines.append(
        f"| {name} | ({mu}) | {r['abs_err']:.4f} | {r['rel_err']:.4f} | "
        f"{r['trainable_params']} | {r['seconds']:.1f} | {st} |"
      )
  return "\n".join(lines) + "\n"


def run(cfg: CompareConfig, flag_values: Optional[dict] = None, log: Callable = print) -> dict:
  """Runs every method in cfg.methods; writes <workdir>/compare.json and compare.md."""
  cfg.validate()
  if (
    cfg.hyper_checkpoint is None
    and "hyper_lr" in cfg.methods
    and os.path.exists(os.path.join(cfg.workdir, "hyper_lr", "checkpoints"))
  ):
    raise UserError(f"{cfg.workdir}/hyper_lr already holds checkpoints; choose another --workdir")
  ctx = _Ctx(cfg)
  runners = {
    "pinn": lambda: _per_target(ctx, nets.pinn(), log),
    "pinn_p": lambda: _pinn_p(ctx, log),
    "s2s": lambda: _s2s(ctx, log),
    "curriculum": lambda: _curriculum(ctx, log),
    "maml": lambda: _meta(ctx, "maml", log),
    "maml_fo": lambda: _meta(ctx, "maml_fo", log),
    "reptile": lambda: _meta(ctx, "reptile", log),
    "hyper_lr": lambda: _hyper_lr(ctx, log),
  }
  out: Dict[str, Any] = {
    "config": {**(flag_values or {}), **dataclasses.asdict(cfg)},
    "methods": {},
  }
  t0 = time.perf_counter()
  for name in cfg.methods:
    log(f"[compare] {name} ({time.perf_counter() - t0:.0f} s elapsed)")
    if name == "naive_lr":
      for r in cfg.naive_ranks:
        out["methods"][f"naive_lr_r{r}"] = _per_target(ctx, nets.naive_lr(r), log)
    else:
      out["methods"][name] = runners[name]()
  out["seconds"] = time.perf_counter() - t0
  write_json_atomic(os.path.join(cfg.workdir, RESULT_JSON), out)
  md = markdown(out)
  with open(os.path.join(cfg.workdir, RESULT_MD), "w") as f:
    f.write(md)
  log(md)
  log(f"[done] wrote {os.path.join(cfg.workdir, RESULT_JSON)} and {RESULT_MD}")
  return out
