"""Data parallelism over mu with jax.sharding: one Mesh axis "mu", one jit, the one-device math.

The Phase-1 step and the many-query Phase 2 are written for a batch of mu; here that batch is
split along a Mesh axis named "mu" (parameters, optimizer state and collocation points
replicated), and XLA's SPMD partitioner inserts the one all-reduce the mean over mu needs. A mu
count that does not divide the device count is padded with copies of the last mu at weight 0
(``Phase1Batch.mu_weights``), never dropped. Several hosts: call ``initialize`` first
(jax.distributed); ``jax.devices()`` is then every process's devices and each process supplies
its own rows of the mu batch (``jax.make_array_from_process_local_data``).

>>> # mesh = mu_mesh()                                   # all devices
>>> # step = jax.jit(make_phase1_step(cfg, pde, opt, loss_cfg, seed, mesh=mesh, n_mu=len(mus)))
>>> # state, metrics = step(put_tree(state, replicated(mesh)), phase1_batch(batch, mesh))
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lrpinn_jax.errors import UserError

MU = "mu"  # the Mesh axis the mu batch is split along


def initialize(
  coordinator: Optional[str] = None,
  num_processes: Optional[int] = None,
  process_id: Optional[int] = None,
):
  """jax.distributed.initialize: explicit coordinator "host:port", process count and id, or with
  all three None the cluster environment JAX detects (SLURM, Open MPI, ...)."""
  jax.distributed.initialize(
    coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
  )


def mu_mesh(devices: Optional[int] = None) -> Mesh:
  """A 1-D Mesh over the first ``devices`` of jax.devices() (None or 0: all of them)."""
  available = jax.devices()
  n = len(available) if not devices else int(devices)
  if not 1 <= n <= len(available):
    raise UserError(
      f"--devices must be between 1 and {len(available)} (the devices JAX sees: "
      f"{len(available)} x {available[0].platform}), got {devices}"
    )
  if jax.process_count() > 1 and n != len(available):
    raise UserError(
      f"with {jax.process_count()} processes --devices must be all "
      f"{len(available)} devices, got {n}"
    )
  return Mesh(np.asarray(available[:n]), (MU,))


def padded(n: int, multiple: int) -> int:
  """The smallest multiple of ``multiple`` that is >= n."""
  return -(-n // multiple) * multiple


def pad_mu(mus, weights, multiple: int):
  """mus (n, d) and weights (n,) (None: ones) padded to a multiple of ``multiple`` rows with
  copies of the last mu at weight 0. Works on numpy and traced arrays."""
  xp = np if isinstance(mus, np.ndarray) else jnp
  n = mus.shape[0]
  weights = xp.ones((n,), mus.dtype) if weights is None else weights
  extra = padded(n, multiple) - n
  if extra == 0:
    return mus, weights
  return (
    xp.concatenate([mus, xp.repeat(mus[-1:], extra, axis=0)]),
    xp.concatenate([weights, xp.zeros((extra,), weights.dtype)]),
  )


def split(mesh: Mesh) -> NamedSharding:
  """Leading axis split along "mu", other axes whole."""
  return NamedSharding(mesh, P(MU))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def put(x, sharding: NamedSharding) -> jax.Array:
  """A global array from the host array ``x`` (the same on every process): device_put on one
  process; on several, each process contributes only the rows its own devices hold
  (jax.make_array_from_process_local_data)."""
  x = np.asarray(x)
  if jax.process_count() == 1:
    return jax.device_put(x, sharding)
  index = sharding.addressable_devices_indices_map(x.shape).values()
  rows = [i[0] for i in index if i is not None] if x.ndim else []
  lo = min((r.start or 0) for r in rows) if rows else 0
  hi = max((x.shape[0] if r.stop is None else r.stop) for r in rows) if rows else None
  local = x[lo:hi] if x.ndim else x
  return jax.make_array_from_process_local_data(sharding, local, x.shape)


def put_tree(tree, sharding: NamedSharding):
  return jax.tree.map(lambda a: put(a, sharding), tree)


def phase1_batch(batch, mesh: Mesh):
  """A Phase1Batch padded to a multiple of the mesh size (weight-0 copies of the last mu) with
  its mu axis split along "mu" and its points replicated. The step that takes it must know the
  real count: ``make_phase1_step(..., mesh=mesh, n_mu=len(batch.mus))``."""
  mus, weights = pad_mu(
    np.asarray(batch.mus),
    None if batch.mu_weights is None else np.asarray(batch.mu_weights),
    mesh.size,
  )
  return batch._replace(
    mus=put(mus, split(mesh)),
    mu_weights=put(weights, split(mesh)),
    points=put_tree(jax.tree.map(np.asarray, batch.points), replicated(mesh)),
  )
