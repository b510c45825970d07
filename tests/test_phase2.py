"""Phase 2: only s, start and end layers move; adaptive ranks; one compilation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.fit.phase1 import LossConfig, make_batch
from lrpinn_jax.fit.phase2 import (
  Phase2Batch,
  init_phase2,
  make_phase2_step,
  split_params,
  trainable_count,
)
from lrpinn_jax.pdes.registry import make_pde
from tests.conftest import TINY_DATA


def _setup(solver, rank_mode="adaptive", lr=1e-3):
  pde = make_pde("convection")
  mu = jnp.array([40.0, 0.0, 0.0])
  opt = optax.adam(lr)
  state = init_phase2(solver.config, solver.params, mu, opt, rank_mode)
  points = make_batch(mu[None], train_batch(pde, TINY_DATA, 0)).points
  step = make_phase2_step(solver.config, pde, opt, LossConfig(need_xx=False))
  return state, Phase2Batch(mu, points), step


def test_adaptive_ranks_and_trainable_count(official_phase1):
  trainable, frozen, ranks = split_params(
    official_phase1.config, official_phase1.params, np.array([40.0, 0, 0]), "adaptive"
  )
  assert ranks == (29, 30, 34)
  assert frozen["lowrank_0"]["U"].shape == (50, 29)
  # 29 + 30 + 34 diagonal entries + start (50 x 2 + 50) + end (50 + 1)
  assert trainable_count(trainable) == 294
  full, _, franks = split_params(
    official_phase1.config, official_phase1.params, np.array([40.0, 0, 0]), "full"
  )
  assert franks == (50, 50, 50) and trainable_count(full) == 351


def test_frozen_leaves_bit_identical_and_trainable_move(official_phase1):
  state0, batch, step = _setup(official_phase1)
  step = jax.jit(step)
  frozen0 = jax.tree.map(np.array, state0.frozen)
  trainable0 = jax.tree.map(np.array, state0.trainable)
  state = state0
  for _ in range(3):
    state, _ = step(state, batch)
  for a, b in zip(jax.tree.leaves(frozen0), jax.tree.leaves(state.frozen)):
    assert np.array_equal(a, np.asarray(b))
  moved = [
    not np.array_equal(a, np.asarray(b))
    for a, b in zip(jax.tree.leaves(trainable0), jax.tree.leaves(state.trainable))
  ]
  assert all(moved)


def test_adaptive_phase2_preserves_the_function_at_init(official_phase1):
  """Dropping the zero entries of s does not change the network at initialisation."""
  x = jnp.linspace(0.1, 6.0, 20)
  t = jnp.linspace(0.0, 1.0, 20)
  from lrpinn_jax.fit.phase2 import predict

  tr, fr, _ = split_params(
    official_phase1.config, official_phase1.params, np.array([40.0, 0, 0]), "adaptive"
  )
  np.testing.assert_allclose(
    predict(official_phase1.config, tr, fr, x, t),
    official_phase1(x, t, jnp.array([40.0, 0, 0])),
    atol=1e-5,
  )


def test_first_adam_step_matches_hand_computation(official_phase1):
  """Adam's first update is -lr * g / (|g| + eps) elementwise, whatever the gradient."""
  lr = 1e-3
  state0, batch, step = _setup(official_phase1, lr=lr)
  from lrpinn_jax.fit.phase2 import phase2_loss

  grad = lambda tr: jax.grad(phase2_loss, has_aux=True)(
    tr,
    state0.frozen,
    official_phase1.config,
    make_pde("convection"),
    LossConfig(need_xx=False),
    batch,
  )[0]
  g = jax.jit(grad)(state0.trainable)  # jitted: eager dispatch compiles every primitive alone
  state1, _ = jax.jit(step)(state0, batch)
  expected = jax.tree.map(lambda p, gg: p - lr * gg / (jnp.abs(gg) + 1e-8), state0.trainable, g)
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(state1.trainable)):
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-7)


def test_phase2_step_compiles_once(official_phase1):
  state, batch, inner = _setup(official_phase1)
  traces = []

  def counted(s, b):
    traces.append(1)
    return inner(s, b)

  step = jax.jit(counted)
  for _ in range(4):
    state, _ = step(state, batch)
  assert len(traces) == 1
