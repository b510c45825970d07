"""Phase 2 for many mu at once: one jit-compiled call, vmapped over mu, Levenberg-Marquardt steps
in a lax.fori_loop. No Python loop over mu or over steps.

Different mu have different adaptive ranks, so shapes are kept at full rank and the adaptive rank is
a 0/1 mask on s (frozen["mask"]): masked entries stay exactly zero and their Jacobian columns
vanish, so the result equals the truncated per-mu Phase 2 (tests check this).
"""

from __future__ import annotations

import dataclasses
import time
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from lrpinn_jax.fit import lm, sharding
from lrpinn_jax.fit.phase1 import LossConfig
from lrpinn_jax.fit.phase2 import RANK_MODES, Phase2Batch, predict
from lrpinn_jax.fit.train import fmt_time
from lrpinn_jax.io import programs
from lrpinn_jax.nn.model import ModelConfig, hyper_s
from lrpinn_jax.precision import np_real, real

# Mu per compiled call in the many-query commands (peak memory and speed at this size:
# results/convection_30_40/README.md, "Many-query at scale").
DEFAULT_CHUNK = 100


class ManyQueryResult(NamedTuple):
  trainable: dict  # leaves with a leading mu axis
  frozen: dict  # shared bases + per-mu "mask" (leading mu axis)
  loss: np.ndarray  # (n_mu,) final Phase-2 loss
  seconds: float  # wall time of the batched Phase 2, compilation included
  steps: Optional[np.ndarray] = None  # (n_mu,) LM steps each mu took
  converged: Optional[np.ndarray] = (
    None  # (n_mu,) stopped by the Stop rule rather than the step budget
  )


def init_many(cfg: ModelConfig, params: dict, mus, rank_mode: str = "adaptive"):
  """Stacked trainable pytree and frozen pytree (with per-mu masks) for mus (n_mu, pde.mu_dim)."""
  assert rank_mode in RANK_MODES
  s = jax.vmap(lambda m: hyper_s(cfg, params["hyper"], m))(jnp.asarray(mus, real()))
  n = s[0].shape[0]
  mask = tuple((v > 0).astype(real()) if rank_mode == "adaptive" else jnp.ones_like(v) for v in s)
  net = params["net"]
  bcast = lambda tree: jax.tree.map(lambda a: jnp.broadcast_to(a, (n,) + a.shape), tree)
  trainable = {"s": s, "start": bcast(net["start"]), "end": bcast(net["end"])}
  frozen = {k: v for k, v in net.items() if k.startswith("lowrank_")}
  frozen["mask"] = mask
  return trainable, frozen


def _in_axes(frozen: dict) -> dict:
  return {k: (0 if k == "mask" else None) for k in frozen}


@dataclasses.dataclass(frozen=True)
class Stop:
  """Per-mu stopping rule of the batched LM: every ``window`` steps a mu whose loss fell by less
  than the fraction ``rel_tol`` over the last ``window`` steps stops (its state is frozen from
  then on); rel_tol = 0: every mu runs all the steps. A chunk ends when every mu in it has
  stopped, so the time saved is that of the steps no mu of the chunk needed."""

  window: int = 10
  rel_tol: float = 0.0

  DEFAULT_TOL = 1e-2  # the commands' default (experiments.many_query --tol)


def make_many_lm(
  cfg: ModelConfig,
  pde,
  loss_cfg: LossConfig,
  steps: int,
  lm_cfg: lm.LMConfig = lm.LMConfig(),
  stop: Stop = Stop(),
):
  """Returns solve(trainable, frozen, mus, points) -> (trainable, loss (n,), steps (n,), converged
  (n,)), to jit once: ``steps`` LM steps at most per mu, fewer where ``stop`` ends it (steps: the
  steps each mu took; converged: stopped by the rule rather than the budget)."""
  step = lm.make_lm_step(cfg, pde, loss_cfg, lm_cfg)

  def solve(trainable, frozen, mus, points):
    axes = lm.LMState(0, _in_axes(frozen), 0, 0, 0, 0 if lm_cfg.keeps_jac else None, 0, 0, 0, 0)
    init = lambda tr, fr: lm.init_lm(pde, tr, fr, points, lm_cfg, need_xx=loss_cfg.need_xx)
    state = jax.vmap(init, in_axes=(0, _in_axes(frozen)), out_axes=axes)(trainable, frozen)
    vstep = jax.vmap(
      lambda st, mu: step(st, Phase2Batch(mu, points))[0], in_axes=(axes, 0), out_axes=axes
    )
    if not stop.rel_tol:
      state = jax.lax.fori_loop(0, steps, lambda _, st: vstep(st, mus), state)
      n = mus.shape[0]
      return (state.trainable, state.loss, jnp.full((n,), steps, jnp.int32), jnp.zeros((n,), bool))

    def body(carry):
      k, st, ref, done = carry
      new = vstep(st, mus)
      keep = lambda a, b: jnp.where(done.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
      per_mu = {
        f: jax.tree.map(keep, getattr(st, f), getattr(new, f))
        for f in ("trainable", "r", "jtj", "jtr", "damping", "nu", "loss", "step")
      }
      if lm_cfg.keeps_jac:
        per_mu["jac"] = keep(st.jac, new.jac)
      st = st._replace(**per_mu)
      check = (k + 1) % stop.window == 0
      # the first step only evaluates the start (loss inf before it): no window ends there
      stalled = check & (k + 1 > stop.window) & (ref - st.loss <= stop.rel_tol * ref)
      done = done | stalled
      ref = jnp.where(check, st.loss, ref)
      return k + 1, st, ref, done

    n = mus.shape[0]
    carry = (
      jnp.zeros((), jnp.int32),
      state,
      jnp.full((n,), jnp.inf, real()),
      jnp.zeros((n,), bool),
    )
    _, state, _, done = jax.lax.while_loop(lambda c: (c[0] < steps) & ~jnp.all(c[3]), body, carry)
    return state.trainable, state.loss, state.step, done

  return solve


def chunk_size(n: int, chunk: int = 0, mesh=None) -> int:
  """Mu per compiled call: ``chunk`` (0: all n at once), at most n, rounded up to a multiple of
  the mesh size."""
  size = n if not chunk else min(int(chunk), n)
  return sharding.padded(max(size, 1), mesh.size if mesh is not None else 1)


def make_chunk_solver(
  cfg: ModelConfig,
  pde,
  params: dict,
  points,
  *,
  steps: int,
  size: int,
  rank_mode: str = "adaptive",
  loss_cfg: LossConfig = LossConfig(),
  lm_cfg: lm.LMConfig = lm.LMConfig(),
  mesh=None,
  stop: Stop = Stop(),
  warm_steps: int = 0,
  program_key: Optional[str] = None,
):
  """Returns solve(mus, start=None) for exactly ``size`` mu (size, pde.mu_dim) -> (trainable,
  frozen, info), host (numpy) pytrees with a leading mu axis in trainable, frozen["mask"] and
  info's "loss", "steps" and "converged" (``make_many_lm``). One jit for every call; with a mesh
  of several devices the mu axis is split over them.

  start = (trainable, mask) of earlier solutions, one per mu (e.g. a neighbouring mu's): LM
  starts there instead of at the hypernetwork's s(mu), for ``warm_steps`` steps (a second
  compiled program, built when warm_steps > 0). program_key: names the problem
  (lrpinn_jax.io.programs.problem_key) so that, on one device, both programs are stored beside the
  compilation cache and a later run loads them instead of tracing them."""
  multi = mesh is not None and mesh.size > 1
  if multi and mesh.devices.flat[0].platform == "cpu":  # see LMConfig.sequential_solve
    lm_cfg = dataclasses.replace(lm_cfg, sequential_solve=True)
  split = sharding.split(mesh) if multi else None
  rep = sharding.replicated(mesh) if multi else None
  place = (lambda tree, sh: sharding.put_tree(tree, sh)) if multi else (lambda tree, sh: tree)
  pts = place(jax.tree.map(np.asarray, points), rep)
  lm_solve = make_many_lm(cfg, pde, loss_cfg, steps, lm_cfg, stop)

  # The parameters are an argument, not a constant baked into the program (one program serves
  # any parameter values, and XLA does not fold parameter-only work at compile time).
  def batch(params, mus, pts):
    trainable, frozen = init_many(cfg, params, mus, rank_mode)
    trainable, loss, taken, converged = lm_solve(trainable, frozen, mus, pts)
    return trainable, frozen["mask"], {"loss": loss, "steps": taken, "converged": converged}

  lm_warm = make_many_lm(cfg, pde, loss_cfg, warm_steps, lm_cfg, stop) if warm_steps else None

  def batch_from(params, mus, pts, trainable, mask):
    frozen = {k: v for k, v in params["net"].items() if k.startswith("lowrank_")}
    frozen["mask"] = mask
    trainable, loss, taken, converged = lm_warm(trainable, frozen, mus, pts)
    return trainable, mask, {"loss": loss, "steps": taken, "converged": converged}

  run, run_from = batch, batch_from
  if multi:  # each device solves its own mu: no collective inside the LM loop
    run = jax.shard_map(
      batch,
      mesh=mesh,
      in_specs=(P(), P(sharding.MU), P()),
      out_specs=P(sharding.MU),
      check_vma=False,
    )
    run_from = jax.shard_map(
      batch_from,
      mesh=mesh,
      in_specs=(P(), P(sharding.MU), P(), P(sharding.MU), P(sharding.MU)),
      out_specs=P(sharding.MU),
      check_vma=False,
    )
  if multi or program_key is None:
    run, run_from = jax.jit(run), jax.jit(run_from)
  else:
    key = repr((program_key, cfg, rank_mode, loss_cfg, lm_cfg, stop, steps, warm_steps))
    run = programs.stored(run, "many_lm", key)
    run_from = programs.stored(run_from, "many_lm_warm", key)
  bases = {k: v for k, v in params["net"].items() if k.startswith("lowrank_")}
  params = place(jax.tree.map(np.asarray, params), rep)

  def solve(mus, start=None):
    mus = np.asarray(mus, np_real())
    assert mus.shape[0] == size, (mus.shape, size)
    if start is None:
      trainable, mask, info = jax.device_get(run(params, place(mus, split), pts))
    else:
      assert warm_steps, "make_chunk_solver(warm_steps=...) builds the warm-start program"
      tr0, mask0 = (place(jax.tree.map(np.asarray, v), split) for v in start)
      trainable, mask, info = jax.device_get(run_from(params, place(mus, split), pts, tr0, mask0))
    return trainable, {**jax.device_get(bases), "mask": mask}, info

  return solve


def run_many(
  cfg: ModelConfig,
  pde,
  params: dict,
  mus,
  points,
  *,
  steps: int,
  rank_mode: str = "adaptive",
  loss_cfg: LossConfig = LossConfig(),
  lm_cfg: lm.LMConfig = lm.LMConfig(),
  chunk: int = 0,
  mesh=None,
  log=None,
  stop: Stop = Stop(),
) -> ManyQueryResult:
  """Batched LM Phase 2 for all ``mus`` (n_mu, pde.mu_dim); seconds include compilation.

  chunk > 0: the mu go through ONE compiled program ``chunk`` at a time (the last chunk padded
  with copies of the last mu, whose results are dropped), so memory stays bounded for any n_mu;
  results come back to the host after each chunk. mesh (lrpinn_jax.fit.sharding.mu_mesh): each chunk
  is split over its devices along mu. log: a progress line with ETA after each chunk. stop: the
  per-mu stopping rule (``Stop``; default: every mu takes all the steps).
  """
  t0 = time.perf_counter()
  mus = np.asarray(mus, np_real())
  size = chunk_size(len(mus), chunk, mesh)
  solve = make_chunk_solver(
    cfg,
    pde,
    params,
    points,
    steps=steps,
    size=size,
    rank_mode=rank_mode,
    loss_cfg=loss_cfg,
    lm_cfg=lm_cfg,
    mesh=mesh,
    stop=stop,
  )
  keep, parts = zip(*[(k, solve(part)) for k, part in chunked(mus, size, log)])
  frozen = {k: v for k, v in parts[0][1].items() if k != "mask"}
  frozen["mask"] = concat([p[1]["mask"] for p in parts], keep)
  info = concat([p[2] for p in parts], keep)
  return ManyQueryResult(
    concat([p[0] for p in parts], keep),
    frozen,
    info["loss"],
    time.perf_counter() - t0,
    info["steps"],
    info["converged"],
  )


def chunked(mus: np.ndarray, size: int, log=None):
  """Yields (n_real, chunk) over mus (n, d): chunks of exactly ``size`` rows, the last padded
  with copies of the last mu; with ``log``, a progress line with ETA after each chunk."""
  n = len(mus)
  total = -(-n // size)
  t0 = time.perf_counter()
  for k in range(total):
    part = mus[k * size : (k + 1) * size]
    yield len(part), sharding.pad_mu(part, None, size)[0]
    if log is not None and total > 1:
      done = min((k + 1) * size, n)
      elapsed = time.perf_counter() - t0
      log(
        f"[many_query] chunk {k + 1}/{total}: {done}/{n} mu, {done / elapsed:.2f} mu/s, "
        f"elapsed {fmt_time(elapsed)}  ETA {fmt_time(elapsed / done * (n - done))}"
      )


def concat(parts, keep):
  """Concatenate host pytrees along the leading axis, each cut to its first ``keep`` rows."""
  return jax.tree.map(lambda *a: np.concatenate([v[:k] for v, k in zip(a, keep)]), *parts)


def predict_many(
  cfg: ModelConfig, trainable: dict, frozen: dict, *coords, pde=None, mus=None
) -> jnp.ndarray:
  """u at points (one (n,) array per coordinate, e.g. x, t) for every mu of a batched Phase 2:
  (n_mu, n), or (n_mu, n, n_fields) for several fields. pde, mus (n_mu, m): the problem and the
  mu the batch was fine-tuned for (needed by a model that holds its initial condition exactly,
  ModelConfig.hard_ic)."""
  if mus is None:
    return jax.vmap(lambda tr, fr: predict(cfg, tr, fr, *coords), in_axes=(0, _in_axes(frozen)))(
      trainable, frozen
    )
  return jax.vmap(
    lambda tr, fr, mu: predict(cfg, tr, fr, *coords, pde=pde, mu=mu),
    in_axes=(0, _in_axes(frozen), 0),
  )(trainable, frozen, jnp.asarray(mus, real()))


def trainable_counts(trainable: dict, frozen: dict) -> np.ndarray:
  """Trainable numbers per mu: unmasked s entries + first and last layers. (n_mu,)"""
  per_layer = sum(np.asarray(m).sum(axis=1) for m in frozen["mask"])
  dense = sum(np.prod(a.shape[1:]) for k in ("start", "end") for a in jax.tree.leaves(trainable[k]))
  return (per_layer + dense).astype(int)


def study(
  solver,
  mus,
  *,
  steps: int = 100,
  rank_mode: str = "adaptive",
  seed: int = 0,
  chunk: int = DEFAULT_CHUNK,
  data=None,
  mesh=None,
  log=print,
  stop: Stop = Stop(),
  warm_steps: int = 0,
  lm_cfg: lm.LMConfig = lm.LMConfig(),
) -> dict:
  """The many-query study of any problem: zero-shot and batched LM Phase 2 for every mu of
  ``mus`` (n, mu_dim), errors against the problem's reference on each mu's test set (the same
  points for all).

  chunk > 0: ``chunk`` mu at a time through one compiled program each for zero-shot, LM and
  prediction (reference solutions too are made per chunk), so memory stays bounded for any n;
  mesh: each chunk split over the devices along mu. steps = 0: zero-shot only. lm_cfg: the LM's
  settings (e.g. a variant of lrpinn_jax.fit.lm.VARIANTS).
  Returns {"seconds", "mu_per_second", "peak_memory_mb", "phase2_steps", "rank_mode", "chunk",
  "devices", "n_f", "stop", "lm" (the LM's settings, ``lm_cfg``), "mus": [{"mu",
  "zero_shot_rel_err", "phase2_rel_err", "ranks", "trainable_params", "steps", "stopped"}]}
  ("stopped": "converged" by the ``stop`` rule or
  "steps", the budget); a problem of several fields adds each field's and each error group's
  relative L2 error ("zero_shot_by_field", "phase2_by_field"). steps = 0 leaves out the Phase-2
  entries. seconds: the whole study, compilation and test-set references included.

  warm_steps > 0: warm starts. The chunks interleave the mu (chunk j holds mu j, j + c, j + 2c,
  ... of c chunks, so a chunk's mu lie between the previous chunk's); the first chunk runs
  ``steps`` LM steps from the hypernetwork, every later one ``warm_steps`` from the solution of
  the nearest mu solved so far (in the hypernetwork's normalised coordinates). Rows come back in
  the order of ``mus``.
  """
  from lrpinn_jax.fit.data import DataConfig, test_points, train_batch
  from lrpinn_jax.fit.phase1 import predict as zero_shot
  from lrpinn_jax.metrics import problem_errors
  from lrpinn_jax.pdes.registry import pde_of

  t0 = time.perf_counter()
  data = data or DataConfig()
  pde = pde_of(solver)
  mus = np.asarray(mus, np.float64).reshape(-1, pde.mu_dim)
  pde.check_mu(mus)
  mus = mus.astype(np_real())
  points = train_batch(pde, data, seed)
  coords_np = test_points(pde, data, seed)
  coords = [jnp.asarray(c, real()) for c in coords_np]
  cfg = solver.config
  size = chunk_size(len(mus), chunk, mesh)
  problem = programs.problem_key(solver)
  key = None if problem is None else repr((problem, cfg))
  zero_at = programs.stored(lambda p, m, cs: zero_shot(cfg, p, m, *cs, pde=pde), "zero_shot", key)
  zero_fn = lambda p, m: zero_at(p, m, tuple(coords))
  if steps:
    solve = make_chunk_solver(
      cfg,
      pde,
      solver.params,
      points,
      steps=steps,
      size=size,
      rank_mode=rank_mode,
      loss_cfg=LossConfig(need_xx=pde.needs_uxx(mus)),
      mesh=mesh,
      lm_cfg=lm_cfg,
      stop=stop,
      warm_steps=warm_steps,
      program_key=problem,
    )
    after_at = programs.stored(
      lambda tr, fr, m, cs: predict_many(cfg, tr, fr, *cs, pde=pde, mus=m), "predict_many", key
    )
    after_fn = lambda tr, fr, m: after_at(tr, fr, m, tuple(coords))
  log(
    f"[many_query] {len(mus)} mu, "
    + (f"{steps} LM steps" if steps else "zero-shot only")
    + f", {-(-len(mus) // size)} chunk(s) of {size}"
    + (f" split over {mesh.size} devices" if mesh is not None and mesh.size > 1 else "")
  )

  def scored(prefix, pred, true):
    e = problem_errors(pde, pred, true)
    out = {f"{prefix}_rel_err": e["rel_err"]}
    if "fields" in e:
      by = {f: v["rel_err"] for f, v in e["fields"].items()}
      by.update({g: e[g]["rel_err"] for g in getattr(pde, "error_groups", {})})
      out[f"{prefix}_by_field"] = by
    return out

  warm = bool(steps and warm_steps)
  n_chunks = -(-len(mus) // size)
  order = np.argsort(np.arange(len(mus)) % n_chunks, kind="stable") if warm else np.arange(len(mus))
  scale = np.asarray(cfg.mu_scale, np.float64)
  solved = None  # (mu (m, d), trainable, mask) of the mu solved so far (warm starts)
  rows = []
  for keep, part in chunked(mus[order], size, log):
    u_ref = [pde.reference(*coords_np, mu) for mu in part[:keep]]
    zero = np.asarray(zero_fn(solver.params, part))
    new = [
      {"mu": [float(v) for v in mu], **scored("zero_shot", zero[i], u_ref[i])}
      for i, mu in enumerate(part[:keep])
    ]
    if steps:
      start = None
      if solved is not None:
        dist = np.abs(part[:, None, :] / scale - solved[0][None, :, :] / scale).sum(-1)
        near = np.argmin(dist, axis=1)
        start = (
          jax.tree.map(lambda a: a[near], solved[1]),
          jax.tree.map(lambda a: a[near], solved[2]),
        )
      trainable, frozen, info = solve(part, start)
      if warm:
        new_sol = (
          part[:keep],
          jax.tree.map(lambda a: a[:keep], trainable),
          jax.tree.map(lambda a: a[:keep], frozen["mask"]),
        )
        solved = (
          new_sol
          if solved is None
          else tuple(
            jax.tree.map(lambda a, b: np.concatenate([a, b]), old, cur)
            for old, cur in zip(solved, new_sol)
          )
        )
      u = np.asarray(after_fn(trainable, frozen, part))
      counts = trainable_counts(trainable, frozen)
      for i, row in enumerate(new):
        row.update(
          {
            **scored("phase2", u[i], u_ref[i]),
            "ranks": [int(np.asarray(m[i]).sum()) for m in frozen["mask"]],
            "trainable_params": int(counts[i]),
            "steps": int(info["steps"][i]),
            "stopped": "converged" if info["converged"][i] else "steps",
          }
        )
    rows.extend(new)
  rows = [rows[i] for i in np.argsort(order)]  # back in the order of ``mus``
  seconds = time.perf_counter() - t0
  return {
    "seconds": seconds,
    "mu_per_second": len(mus) / seconds,
    "peak_memory_mb": peak_memory_mb(),
    "phase2_steps": steps,
    "rank_mode": rank_mode,
    "chunk": size,
    "devices": 1 if mesh is None else mesh.size,
    "n_f": data.n_f,
    "stop": dataclasses.asdict(stop),
    "lm": dataclasses.asdict(lm_cfg),
    "warm_steps": warm_steps if warm else 0,
    "mus": rows,
  }


def beta_study(
  solver,
  betas,
  *,
  steps: int = 100,
  rank_mode: str = "adaptive",
  seed: int = 0,
  chunk: int = DEFAULT_CHUNK,
  data=None,
  mesh=None,
  log=print,
  stop: Stop = Stop(),
  warm_steps: int = 0,
  lm_cfg: lm.LMConfig = lm.LMConfig(),
) -> dict:
  """``study`` over beta (n,) with nu = rho = 0 (the convection models, paper Fig. 5), in the
  many_query.json layout of convection: the rows under "betas", each with its "beta"."""
  betas = np.asarray(betas, np.float64)
  mus = np.stack([betas, np.zeros_like(betas), np.zeros_like(betas)], 1)
  out = study(
    solver,
    mus,
    steps=steps,
    rank_mode=rank_mode,
    seed=seed,
    chunk=chunk,
    data=data,
    mesh=mesh,
    log=log,
    stop=stop,
    warm_steps=warm_steps,
    lm_cfg=lm_cfg,
  )
  rows = out.pop("mus")
  out["betas"] = [{"beta": r.pop("mu")[0], **r} for r in rows]
  return out


def peak_memory_mb() -> float:
  """Peak resident memory of this process so far (ru_maxrss), MiB."""
  import resource

  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worst_in(study: dict, lo: float, hi: float, key: str = "phase2_rel_err") -> float:
  """Largest ``key`` over the betas of a beta_study in [lo, hi] (nan if none)."""
  vals = [r[key] for r in study["betas"] if lo <= r["beta"] <= hi]
  return float(np.max(vals)) if vals else float("nan")
