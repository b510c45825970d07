"""Speed benchmark: median Phase-1 and Phase-2 step times and XLA's FLOP count.

  python -m benchmarks.speed [--steps=20] [--variants] [--out=FILE]
  python -m benchmarks.speed --all [--out=FILE]   # on whatever backend JAX finds
  python -m benchmarks.speed --lm                 # the steps and the LM step's parts only

--all adds, on the device JAX picks (printed as "device"): the LM Phase-2 step and its parts, the
many-query throughput (--many_query_n betas in [25, 45] from the official checkpoint, 100 LM steps,
chunks of 100; mu per second and worst error) and the time to accuracy of the main command
(benchmarks.time_to_accuracy, seed 0, in --tta_workdir), and where the wall time of the one-query
commands goes, cold and warm (benchmarks.startup).

Prints one JSON object (with the device's float32 matmul peak, measured in the same run, and the
Phase-1 step's fraction of it). Phase 1: official configuration (11 mu = beta 30..40, 1000 + 256 +
2x100 points, width 50, rank 50, Adam). Phase 2: one mu, 1000 collocation points, adaptive rank of
the official beta = 40 checkpoint. --variants also times the other derivative mode and forced
factored / merged low-rank products, for the decisions recorded in BUILD_NOTES.md.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags

from benchmarks import startup
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.fit.phase1 import LossConfig, init_phase1, make_batch, make_phase1_step
from lrpinn_jax.fit.phase2 import Phase2Batch, init_phase2, make_phase2_step
from lrpinn_jax.io import interop
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.pdes.registry import make_pde

REFERENCE = interop.official_path("phase1.npz")

_STEPS = flags.DEFINE_integer("steps", 20, "timed steps per measurement", lower_bound=1)
_VARIANTS = flags.DEFINE_bool("variants", False, "also time derivative modes and merge settings")
_OUT = flags.DEFINE_string("out", None, "also write the JSON object to this file")
_ALL = flags.DEFINE_bool("all", False, "also LM step, many-query throughput, time to accuracy")
_LM = flags.DEFINE_bool("lm", False, "also the LM step and its parts (part of --all)")
_MQ_N = flags.DEFINE_integer(
  "many_query_n", 200, "betas of the --all many-query throughput", lower_bound=1
)
_WORKDIR = flags.DEFINE_string(
  "tta_workdir",
  "runs/speed_all_tta",
  "--all: workdir of the main command (must not hold checkpoints)",
)


def peak_gflops(n: int = 2048, reps: int = 5) -> float:
  """Best float32 GFLOP/s of a large square jnp.dot (n x n times n x n) on this device."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  dot = jax.jit(jnp.dot)
  dot(a, a).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    dot(a, a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * n**3 / best / 1e9


def _time_step(step, state, batch, n):
  """Median wall time (ms) of n calls after warm-up, and XLA's FLOP estimate for one call."""
  compiled = step.lower(state, batch).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  for _ in range(3):
    state, m = compiled(state, batch)
  jax.block_until_ready(state)
  times = []
  for _ in range(n):
    t0 = time.perf_counter()
    state, m = compiled(state, batch)
    jax.block_until_ready(state)
    times.append(time.perf_counter() - t0)
  return 1e3 * float(np.median(times)), float(cost.get("flops", float("nan")))


def phase1_ms(cfg: ModelConfig, loss_cfg: LossConfig, n: int):
  pde = make_pde("convection")
  mus = np.array([[b, 0.0, 0.0] for b in range(30, 41)], np.float32)
  batch = make_batch(mus, train_batch(pde, DataConfig(), seed=0))
  opt = optax.adam(2.5e-4)
  state = init_phase1(cfg, opt, jax.random.key(0))
  step = jax.jit(make_phase1_step(cfg, pde, opt, loss_cfg), donate_argnums=0)
  return _time_step(step, state, batch, n)


def phase2_ms(loss_cfg: LossConfig, n: int, merge=None):
  pde = make_pde("convection")
  solver = interop.load_official(REFERENCE)
  cfg = dataclasses.replace(solver.config, merge=merge)
  opt = optax.adam(2.5e-4)
  mu = np.array([40.0, 0.0, 0.0], np.float32)
  state = init_phase2(cfg, solver.params, mu, opt, "adaptive")
  points = make_batch(mu[None], train_batch(pde, DataConfig(), seed=0)).points
  step = jax.jit(make_phase2_step(cfg, pde, opt, loss_cfg), donate_argnums=0)
  return _time_step(step, state, Phase2Batch(mu, points), n)


def _median_ms(fn, args, n: int) -> float:
  fn = jax.jit(fn)
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(n):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return 1e3 * float(np.median(times))


def lm_ms(n: int) -> dict:
  """Median LM Phase-2 step (official beta = 40 model, full rank as in the batched many-query
  call: 351 numbers, 1356 residuals) and its parts: Jacobian, normal equations, damped solve
  (Cholesky, the library's) and the same solve by LU ("solve_lu", jnp.linalg.solve, what it
  replaced); "batched_step_per_mu": one step of the many-query program for 10 betas in
  [30, 40], per beta."""
  from lrpinn_jax.fit import lm
  from lrpinn_jax.fit.phase2 import split_params
  from lrpinn_jax.query import many_query

  pde = make_pde("convection")
  solver = interop.load_official(REFERENCE)
  cfg = dataclasses.replace(solver.config, merge=False)  # as make_lm_step uses it
  mu = np.array([40.0, 0.0, 0.0], np.float32)
  tr, fr, _ = split_params(cfg, solver.params, mu, "full")
  points = make_batch(mu[None], train_batch(pde, DataConfig(), seed=0)).points
  lc = LossConfig(need_xx=False)
  batch = Phase2Batch(mu, points)
  state = lm.init_lm(pde, tr, fr, points, need_xx=False)
  step = jax.jit(lm.make_lm_step(cfg, pde, lc))  # no donation: tr is used again below
  out = {"step": _time_step(step, state, batch, n)[0]}
  r, jac = jax.jit(lambda t: lm.jacobian(cfg, pde, lc, t, fr, batch))(tr)
  jtj, jtr = lm.normal(r, jac)
  out["jacobian"] = _median_ms(lambda t: lm.jacobian(cfg, pde, lc, t, fr, batch), (tr,), n)
  out["normal_equations"] = _median_ms(lm.normal, (r, jac), n)
  out["solve"] = _median_ms(lambda a, b: lm.propose(a, b, 1e-3), (jtj, jtr), n)
  a = jtj + 1e-3 * jnp.diag(jnp.diagonal(jtj))
  out["solve_lu"] = _median_ms(jnp.linalg.solve, (a, jtr), n)
  out["solve_cholesky"] = _median_ms(lm.spd_solve, (a, jtr), n)
  mus = np.stack([np.linspace(30, 40, 10), np.zeros(10), np.zeros(10)], 1).astype(np.float32)
  solve = many_query.make_many_lm(solver.config, pde, lc, n)
  tr, fr = many_query.init_many(solver.config, solver.params, mus, "full")
  total = _median_ms(solve, (tr, fr, jnp.asarray(mus), points), 3)
  out["batched_step_per_mu"] = total / n / len(mus)
  return {k: round(v, 3) for k, v in out.items()}


def many_query_throughput(n_beta: int) -> dict:
  """n_beta betas in [25, 45] from the official checkpoint, 100 LM steps, chunks of 100."""
  from lrpinn_jax.query import many_query

  study = many_query.beta_study(
    interop.load_official(REFERENCE),
    np.linspace(25, 45, n_beta),
    steps=100,
    chunk=many_query.DEFAULT_CHUNK,
  )
  return {
    "n_beta": n_beta,
    "seconds": round(study["seconds"], 2),
    "mu_per_second": round(study["mu_per_second"], 3),
    "peak_memory_mb": round(study["peak_memory_mb"], 1),
    "worst_rel_err": max(r["phase2_rel_err"] for r in study["betas"]),
  }


def main(argv):
  del argv
  n = _STEPS.value
  loss_cfg = LossConfig(need_xx=False)  # convection: nu = 0 for every training mu
  p1, flops = phase1_ms(ModelConfig(), loss_cfg, n)
  p2, _ = phase2_ms(loss_cfg, n)
  peak = peak_gflops()
  out = {
    "phase1_step_ms": round(p1, 3),
    "phase2_step_ms": round(p2, 3),
    "phase1_gflops_per_step": round(flops / 1e9, 3),
    "phase1_gflops_per_s": round(flops / 1e9 / (p1 / 1e3), 2),
    "peak_gflops_per_s": round(peak, 2),
    "phase1_fraction_of_peak": round(flops / 1e9 / (p1 / 1e3) / peak, 4),
    "deriv_mode": loss_cfg.deriv_mode,
    "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {jax.devices()[0].platform}",
    "jax": jax.__version__,
  }
  if _VARIANTS.value:
    var = {}
    for need_xx, merge in ((False, None), (False, False), (True, None)):
      lc = LossConfig(need_xx=need_xx)
      key = f"phase1_jvp_{'uxx' if need_xx else 'no_uxx'}_merge={merge}"
      var[key] = round(phase1_ms(ModelConfig(merge=merge), lc, n)[0], 3)
    for merge in (None, False):
      var[f"phase2_merge={merge}"] = round(phase2_ms(loss_cfg, n, merge)[0], 3)
    out["variants_ms"] = var
  if _LM.value and not _ALL.value:
    out["lm_ms"] = lm_ms(n)
  if _ALL.value:
    from benchmarks import _tta

    dev = jax.devices()[0]
    out["device"] = f"{dev.platform}: {dev.device_kind} x {jax.device_count()}"
    out["lm_ms"] = lm_ms(n)
    out["many_query"] = many_query_throughput(_MQ_N.value)
    tta, _ = _tta.measure(0, _WORKDIR.value)
    out["time_to_accuracy"] = {
      k: tta[k]
      for k in (
        "total_seconds",
        "phase1_seconds",
        "seconds_to",
        "zero_shot_max",
        "phase2_max",
        "many_query_worst_25_45",
      )
    }
    out["commands_cold_and_warm"] = startup.breakdown()
  startup.report(out, _OUT.value)


if __name__ == "__main__":
  app.run(main)
