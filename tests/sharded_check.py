"""Run by tests/test_sharding.py in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=N
(the device count is fixed when JAX starts, so it cannot be set inside the test process).

  python -m tests.sharded_check phase1 OUT.npz [--n_mu=11] [--steps=20] [--mu_batch=0]
      20 Phase-1 steps with the mu axis split over all devices, and the same 20 steps on one
      device; writes both parameter sets and the input shardings.
  python -m tests.sharded_check multihost OUT.npz --process_id=K --num_processes=2 --port=P
      the same sharded steps as one of several jax.distributed processes (process 0 writes).
  python -m tests.sharded_check many OUT.npz [--n_mu=5]
      chunked many-query LM from the official checkpoint in float64, split over all devices and
      on one.
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from lrpinn_jax.fit import phase1, sharding, train
from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.pdes.registry import make_pde

CFG = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8, hyper_depth=2)


def _problem(n_mu: int, mu_batch: int):
  from lrpinn_jax.fit.data import DataConfig

  pde = make_pde("convection")
  mus = np.stack([np.linspace(30, 40, n_mu), np.zeros(n_mu), np.zeros(n_mu)], 1)
  points = train_batch(pde, DataConfig(n_f=64, n_0=32, n_b=16, n_test=64), 0)
  loss_cfg = phase1.LossConfig(need_xx=False, resample=True, mu_batch=mu_batch)
  return pde, phase1.make_batch(mus, points), loss_cfg


def sharded_steps(n_mu: int, steps: int, mu_batch: int, optimizer: str = "adam", devices=None):
  """(params after ``steps`` sharded steps, the batch fed to the step)."""
  pde, batch, loss_cfg = _problem(n_mu, mu_batch)
  opt = train.make_optimizer(1e-3, name=optimizer)
  mesh = sharding.mu_mesh(devices)
  step = jax.jit(phase1.make_phase1_step(CFG, pde, opt, loss_cfg, seed=0, mesh=mesh, n_mu=n_mu))
  state = sharding.put_tree(
    phase1.init_phase1(CFG, opt, jax.random.key(0)), sharding.replicated(mesh)
  )
  sbatch = sharding.phase1_batch(batch, mesh)
  for _ in range(steps):
    state, _ = step(state, sbatch)
  return state.params, sbatch


def single_steps(n_mu: int, steps: int, mu_batch: int, optimizer: str = "adam"):
  pde, batch, loss_cfg = _problem(n_mu, mu_batch)
  opt = train.make_optimizer(1e-3, name=optimizer)
  step = jax.jit(phase1.make_phase1_step(CFG, pde, opt, loss_cfg, seed=0))
  state = phase1.init_phase1(CFG, opt, jax.random.key(0))
  for _ in range(steps):
    state, _ = step(state, batch)
  return state.params


def many(out: str, n_mu: int):
  """Losses and s of 4 LM steps for n_mu betas, in chunks of 3 split over all devices, and in one
  chunk on one device."""
  from lrpinn_jax.fit.data import DataConfig
  from lrpinn_jax.io import interop
  from lrpinn_jax.query import many_query

  solver = interop.load_official(interop.official_path("phase1.npz"))
  pde = make_pde("convection")
  mus = np.stack([np.linspace(31, 44, n_mu), np.zeros(n_mu), np.zeros(n_mu)], 1)
  points = train_batch(pde, DataConfig(n_f=64, n_0=32, n_b=16, n_test=64), 0)
  lc = phase1.LossConfig(need_xx=False)
  run = lambda **kw: many_query.run_many(
    solver.config, pde, solver.params, mus, points, steps=4, loss_cfg=lc, **kw
  )
  split, one = run(chunk=3, mesh=sharding.mu_mesh()), run()
  x, t = np.linspace(0.1, 6.0, 40), np.linspace(0.0, 1.0, 40)
  u = lambda r: np.asarray(many_query.predict_many(solver.config, r.trainable, r.frozen, x, t))
  np.savez(
    out,
    info=json.dumps({"devices": len(jax.devices())}),
    split_loss=split.loss,
    one_loss=one.loss,
    split_u=u(split),
    one_u=u(one),
    split_mask0=split.frozen["mask"][0],
    one_mask0=one.frozen["mask"][0],
  )


def _flat(params) -> dict:
  leaves = jax.tree_util.tree_leaves_with_path(params)
  return {jax.tree_util.keystr(k): np.asarray(jax.device_get(v)) for k, v in leaves}


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("mode", choices=["phase1", "multihost", "many"])
  ap.add_argument("out")
  ap.add_argument("--n_mu", type=int, default=11)
  ap.add_argument("--steps", type=int, default=20)
  ap.add_argument("--mu_batch", type=int, default=0)
  ap.add_argument("--optimizer", default="adam")
  ap.add_argument("--process_id", type=int, default=0)
  ap.add_argument("--num_processes", type=int, default=1)
  ap.add_argument("--port", type=int, default=0)
  a = ap.parse_args()
  if a.mode == "many":
    from lrpinn_jax import precision

    precision.enable_x64()
    return many(a.out, a.n_mu)
  if a.mode == "multihost":
    sharding.initialize(f"127.0.0.1:{a.port}", a.num_processes, a.process_id)
  params, sbatch = sharded_steps(a.n_mu, a.steps, a.mu_batch, a.optimizer)
  info = {
    "devices": len(jax.devices()),
    "processes": jax.process_count(),
    "mus_spec": str(sbatch.mus.sharding.spec),
    "mus_shape": list(sbatch.mus.shape),
    "mus_shard_rows": sorted({s.data.shape[0] for s in sbatch.mus.addressable_shards}),
    "weights": np.asarray(jax.device_get(sbatch.mu_weights)).tolist()
    if jax.process_count() == 1
    else None,
  }
  out = {f"sharded{k}": v for k, v in _flat(params).items()}
  if a.mode == "phase1":
    single = _flat(single_steps(a.n_mu, a.steps, a.mu_batch, a.optimizer))
    out.update({f"single{k}": v for k, v in single.items()})
  if jax.process_index() == 0:
    np.savez(a.out, info=json.dumps(info), **out)


if __name__ == "__main__":
  main()
