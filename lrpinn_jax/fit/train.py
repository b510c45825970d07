"""Training loops around the pure steps: progress with ETA, checkpoints, resume, NaN guard."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.errors import Preempted, UserError
from lrpinn_jax.fit import lm, phase1, phase2, sharding, soap
from lrpinn_jax.fit.data import TestSet
from lrpinn_jax.io import checkpoint, programs
from lrpinn_jax.metrics import problem_errors
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.precision import real

HISTORY_FILE = "phase1_history.jsonl"


class _History:
  """<workdir>/phase1_history.jsonl: one JSON line per progress line (for the loss curves). On
  resume the lines past the checkpoint's step are dropped, so the file matches the run."""

  def __init__(self, path: str, start: int):
    self.path = path
    kept = []
    if start > 0 and os.path.exists(path):
      with open(path) as f:
        kept = [l for l in f if l.strip() and json.loads(l)["step"] <= start]
    with open(path, "w") as f:
      f.writelines(kept)

  def seconds_at(self, step: int) -> float:
    """Training seconds recorded at ``step`` (0.0 without such a line, e.g. a fresh run)."""
    if step <= 0 or not os.path.exists(self.path):
      return 0.0
    with open(self.path) as f:
      rows = [json.loads(l) for l in f if l.strip()]
    return float(next((r.get("seconds", 0.0) for r in rows if r["step"] == step), 0.0))

  def append(self, step: int, values: dict):
    with open(self.path, "a") as f:
      f.write(json.dumps({"step": step, **values}) + "\n")


class Clock:
  """Training seconds: wall time since creation plus ``base``, less the time spent inside
  ``paused()`` blocks (evaluation and logging)."""

  def __init__(self, base: float = 0.0):
    self.base, self.t0, self.excluded = base, time.perf_counter(), 0.0

  def training(self) -> float:
    return self.base + time.perf_counter() - self.t0 - self.excluded

  @contextlib.contextmanager
  def paused(self):
    e0 = time.perf_counter()
    try:
      yield
    finally:
      self.excluded += time.perf_counter() - e0


class _StopSignals:
  """While active (main thread only): the first SIGTERM / SIGINT sets ``signal`` so that the loop
  can checkpoint and stop; a second one exits the process at once (code 128 + signal number)."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self):
    self.signal, self._old = None, {}

  def _handle(self, signum, frame):
    del frame
    if self.signal is not None:
      sys.stderr.write(f"error: second {signal.Signals(signum).name}: exiting without saving\n")
      sys.stderr.flush()
      os._exit(128 + signum)
    self.signal = signal.Signals(signum).name

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for s in self.SIGNALS:
        self._old[s] = signal.signal(s, self._handle)
    return self

  def __exit__(self, *exc):
    for s, old in self._old.items():
      signal.signal(s, old)


class Diverged(UserError):
  """The loss became non-finite; the last good checkpoint is kept."""


def fmt_time(sec: float) -> str:
  sec = int(round(sec))
  return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


@jax.jit
def _finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _all_finite(tree) -> bool:
  """Every entry of every leaf is finite (one compiled reduction, one transfer)."""
  return bool(_finite(tree))


class Progress:
  """Prints `[name] step k/n  loss ...  ETA h:mm:ss` lines."""

  def __init__(self, name: str, total: int, start: int = 0, log: Callable = print):
    self.name, self.total, self.start, self.log = name, total, start, log
    self.t0 = time.perf_counter()

  def __call__(self, step: int, values: dict):
    done = step - self.start
    elapsed = time.perf_counter() - self.t0
    eta = elapsed / done * (self.total - step) if done > 0 else float("nan")
    order = sorted(values, key=lambda k: (k != "loss", k))
    body = "  ".join(f"{k} {values[k]:.3e}" for k in order)
    eta_s = fmt_time(eta) if np.isfinite(eta) else "?"
    self.log(
      f"[{self.name}] step {step}/{self.total}  {body}  elapsed {fmt_time(elapsed)}  ETA {eta_s}"
    )


LR_SCHEDULES = ("constant", "cosine")


PHASE1_OPTIMIZERS = {"adam": optax.adam, "soap": soap.soap}


def make_optimizer(lr: float, schedule: str = "constant", steps: int = 1, name: str = "adam"):
  """Adam (paper) or SOAP (lrpinn_jax.fit.soap) with a constant learning rate (paper) or cosine
  decay to lr/100 over ``steps``.

  The schedule reads the step count kept in the optimizer state, so resuming stays bit-for-bit
  as long as ``steps`` (the total budget) is unchanged.
  """
  if name not in PHASE1_OPTIMIZERS:
    raise UserError(f"Phase-1 optimizer must be one of {tuple(PHASE1_OPTIMIZERS)}, got {name!r}")
  if schedule == "constant":
    return PHASE1_OPTIMIZERS[name](lr)
  if schedule == "cosine":
    return PHASE1_OPTIMIZERS[name](optax.cosine_decay_schedule(lr, max(steps, 1), alpha=0.01))
  raise UserError(f"learning-rate schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


def latest_step(workdir: str) -> Optional[int]:
  """Step of the latest Phase-1 checkpoint in ``workdir`` (None: none)."""
  if not os.path.isdir(os.path.join(workdir, checkpoint.CKPT_DIR)):
    return None
  with checkpoint.manager(workdir) as mngr:
    return mngr.latest_step()


def fit_phase1(
  cfg: ModelConfig,
  pde,
  mus: np.ndarray,
  points,
  *,
  steps: int,
  lr: float,
  seed: int,
  workdir: str,
  resume: bool = False,
  lr_schedule: str = "constant",
  optimizer: str = "adam",
  loss_cfg: phase1.LossConfig = phase1.LossConfig(),
  log_every: int = 500,
  ckpt_every: int = 2000,
  test: Optional[TestSet] = None,
  log: Callable = print,
  mesh=None,
):
  """Phase 1 over all ``mus`` (n_mu, pde.mu_dim) at once (or loss_cfg.mu_batch of them per step).

  mesh: a Mesh with axis "mu" (lrpinn_jax.fit.sharding.mu_mesh): with more than one device the mu
  batch of every step is split over it. Under jax.distributed only process 0 prints and writes
  model.json and the history; every process takes part in the checkpoints (orbax's multi-host
  save).

  Returns (state, seconds): the training seconds behind the returned state, evaluations
  excluded and, after ``resume``, the seconds of the earlier runs included (from the history).

  Checkpoints every ``ckpt_every`` steps and at the end in <workdir>/checkpoints; with ``resume``
  continues from the latest one bit-for-bit (the step is deterministic given state and data).
  """
  optimizer = make_optimizer(lr, lr_schedule, steps, optimizer)
  state = phase1.init_phase1(cfg, optimizer, jax.random.key(seed))
  batch = phase1.make_batch(mus, points)
  train_mus = batch.mus
  predict = jax.jit(
    lambda params, *coords: phase1.predict(cfg, params, train_mus, *coords, pde=pde)
  )
  if mesh is not None and mesh.size > 1:
    step_fn = jax.jit(
      phase1.make_phase1_step(cfg, pde, optimizer, loss_cfg, seed, mesh=mesh, n_mu=len(mus))
    )
    batch = sharding.phase1_batch(batch, mesh)
    place = lambda st: sharding.put_tree(jax.device_get(st), sharding.replicated(mesh))
  else:
    step_fn = jax.jit(phase1.make_phase1_step(cfg, pde, optimizer, loss_cfg, seed))
    place = lambda st: st
  state = place(state)
  main = jax.process_index() == 0  # several processes: only the first prints and writes files
  if not main:
    log = lambda *a, **k: None
  if main:
    checkpoint.write_model_info(workdir, cfg, pde)
  with checkpoint.manager(workdir) as mngr:
    latest = mngr.latest_step()
    if resume:
      if latest is None:
        raise UserError(f"--resume: no checkpoint in {os.path.join(workdir, checkpoint.CKPT_DIR)}")
      state = place(checkpoint.restore_state(mngr, state, latest))
      log(f"[phase1] resumed from step {int(state.step)}")
    elif latest is not None:
      raise UserError(
        f"{workdir} already holds checkpoints (step {latest}); pass --resume to "
        f"continue or choose another --workdir"
      )
    start = int(state.step)
    if start > steps:
      raise UserError(f"checkpoint is at step {start}, beyond --phase1_steps={steps}")
    progress = Progress("phase1", steps, start, log)
    history = _History(os.path.join(workdir, HISTORY_FILE) if main else os.devnull, start)
    clock = Clock(history.seconds_at(start))
    last_saved = start if resume else None
    with _StopSignals() as signals:
      for k in range(start, steps):
        state, metrics = step_fn(state, batch)
        done = k + 1
        stopping = signals.signal is not None  # checkpoint here, then stop (--resume continues)
        if stopping or done % log_every == 0 or done == steps or done % ckpt_every == 0:
          m = {key: float(v) for key, v in metrics.items()}
          if not np.all(np.isfinite(list(m.values()))) or not _all_finite(state.params):
            kept = f"step {last_saved}" if last_saved is not None else "none"
            raise Diverged(f"loss became non-finite at step {done} (last good checkpoint: {kept})")
          m["seconds"] = clock.training()  # the training clock stops here, before evaluation
          with clock.paused():
            if test is not None:
              u = np.asarray(predict(state.params, *(jnp.asarray(c, real()) for c in test.coords)))
              per_mu = [problem_errors(pde, u[i], test.u[i])["rel_err"] for i in range(u.shape[0])]
              m["test_rel_err"] = float(np.mean(per_mu))
              m["test_rel_err_max"] = float(np.max(per_mu))
            if done % log_every == 0 or done == steps:
              progress(done, {k: v for k, v in m.items() if k != "seconds"})
            history.append(done, m if test is None else {**m, "test_rel_err_per_mu": per_mu})
          if stopping or done % ckpt_every == 0 or done == steps:
            checkpoint.save_state(mngr, state)
            last_saved = done
          if stopping:
            mngr.wait_until_finished()
            raise Preempted(
              f"{signals.signal} at Phase-1 step {done}/{steps}: checkpoint saved "
              f"in {os.path.join(workdir, checkpoint.CKPT_DIR)}; run the same "
              f"command with --resume to continue"
            )
    if steps == start and mngr.latest_step() != start:
      checkpoint.save_state(mngr, state)
    mngr.wait_until_finished()
  return state, clock.training()


# Levenberg-Marquardt variants by name (lm.VARIANTS).
LM_OPTIMIZERS = lm.VARIANTS
PHASE2_OPTIMIZERS = ("adam",) + tuple(LM_OPTIMIZERS)


def phase2_predictor(cfg: ModelConfig, pde, program_key: Optional[str] = None) -> Callable:
  """predict(trainable, frozen, coords (tuple of (n,) arrays), mu) -> phase2.predict's u, jitted;
  stored (lrpinn_jax.io.programs) when ``program_key`` names the problem."""
  key = None if program_key is None else repr((program_key, cfg))
  return programs.stored(
    lambda tr, fr, cs, m: phase2.predict(cfg, tr, fr, *cs, pde=pde, mu=m), "phase2_predict", key
  )


def fit_phase2(
  cfg: ModelConfig,
  pde,
  params: dict,
  mu,
  points,
  *,
  steps: int,
  lr: float = 2.5e-4,
  rank_mode: str = "adaptive",
  optimizer: str = "adam",
  loss_cfg: phase1.LossConfig = phase1.LossConfig(),
  max_seconds: Optional[float] = None,
  tol: float = 0.0,
  eval_every: int = 0,
  test=None,
  log_every: int = 1000,
  log: Callable = print,
  program_key: Optional[str] = None,
):
  """Phase 2 for one mu (pde.mu_dim,) with Adam or Levenberg-Marquardt (``optimizer``).

  Stops after ``steps`` steps, after ``max_seconds`` of training, when the loss falls below
  ``tol``, or (LM) when the damping saturates (no step can lower the loss any more).
  test: optional (*coords, u_exact) arrays (e.g. x, t, u); every ``eval_every`` steps (0: never) the
  test errors go into the trajectory. Seconds count from the start of Phase 2 with compilation,
  without the test evaluations.
  program_key: names the problem for stored programs (lrpinn_jax.io.programs.problem_key): the
  step and the test evaluation are then loaded from the compilation cache folder when a run
  before compiled them (None: jitted as usual).
  Returns (trainable, frozen, info) with info = {"steps", "seconds", "stopped", "trajectory"}.
  """
  if optimizer not in PHASE2_OPTIMIZERS:
    raise UserError(f"Phase-2 optimizer must be one of {PHASE2_OPTIMIZERS}, got {optimizer!r}")
  mu = jnp.asarray(mu, real())
  batch = phase2.Phase2Batch(mu, jax.tree.map(jnp.asarray, points))
  t0 = time.perf_counter()
  state: Any
  step_fn: Callable
  if optimizer == "adam":
    opt = optax.adam(lr)
    state = phase2.init_phase2(cfg, params, mu, opt, rank_mode)
    step_fn = jax.jit(phase2.make_phase2_step(cfg, pde, opt, loss_cfg))
  else:
    lm_cfg = LM_OPTIMIZERS[optimizer]
    state = lm.init_lm(
      pde,
      *phase2.split_params(cfg, params, mu, rank_mode)[:2],
      batch.points,
      lm_cfg,
      need_xx=loss_cfg.need_xx,
    )
    key = None if program_key is None else repr((program_key, cfg, loss_cfg, lm_cfg))
    step_fn = programs.stored(lm.make_lm_step(cfg, pde, loss_cfg, lm_cfg), "phase2_lm", key)
  frozen = state.frozen
  if test is not None:
    coords = tuple(jnp.asarray(a, real()) for a in test[:-1])
    predict_at = phase2_predictor(cfg, pde, program_key)
    predict = lambda tr: predict_at(tr, frozen, coords, mu)
  trajectory, eval_seconds, stopped = [], 0.0, "steps"
  progress = Progress(
    f"phase2 {optimizer} {rank_mode} mu={tuple(float(v) for v in mu)}", steps, 0, log
  )

  def record(done):
    nonlocal eval_seconds
    jax.block_until_ready(state.trainable)  # the step's own time stays out of the eval time
    e0 = time.perf_counter()
    seconds = e0 - t0 - eval_seconds
    m = problem_errors(pde, predict(state.trainable), test[-1])
    trajectory.append(
      {"step": done, "seconds": seconds, "abs_err": m["abs_err"], "rel_err": m["rel_err"]}
    )
    eval_seconds += time.perf_counter() - e0

  if test is not None and eval_every:
    record(0)
  done = 0
  for k in range(steps):
    state, metrics = step_fn(state, batch)
    done = k + 1
    if test is not None and eval_every and done % eval_every == 0:
      record(done)
    check = done % log_every == 0 or done == steps or optimizer != "adam" or max_seconds or tol
    if check:
      loss = float(metrics["loss"])
      if not np.isfinite(loss):
        raise Diverged(f"phase 2 loss became non-finite at step {done} for mu={mu.tolist()}")
      if done % log_every == 0 or done == steps:
        progress(done, {key: float(v) for key, v in metrics.items()})
      if loss < tol:
        stopped = "tol"
      elif optimizer != "adam" and float(metrics["damping"]) >= 0.99 * lm_cfg.max_damping:
        stopped = "stalled"
      elif max_seconds and time.perf_counter() - t0 - eval_seconds >= max_seconds:
        stopped = "max_seconds"
      if stopped != "steps":
        break
  jax.block_until_ready(state.trainable)
  seconds = time.perf_counter() - t0 - eval_seconds
  if test is not None and eval_every and (not trajectory or trajectory[-1]["step"] != done):
    record(done)
  info = {"steps": done, "seconds": seconds, "stopped": stopped, "trajectory": trajectory}
  return state.trainable, state.frozen, info
