"""Phase-1 step: one compilation, hypernetwork once per mu, loss goes down, orthogonality forms."""

import dataclasses

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import optax

from lrpinn_jax.fit import losses
from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.fit.phase1 import LossConfig, init_phase1, make_batch, make_phase1_step
from lrpinn_jax.nn.model import hyper_s, init_params, point_fn
from lrpinn_jax.pdes.registry import make_pde
from tests.conftest import TINY_DATA, TINY_MODEL


def _setup(lr=1e-2):
  pde = make_pde("convection")
  opt = optax.adam(lr)
  state = init_phase1(TINY_MODEL, opt, jax.random.key(0))
  mus = np.array([[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])
  batch = make_batch(mus, train_batch(pde, TINY_DATA, 0))
  return state, batch, make_phase1_step(TINY_MODEL, pde, opt, LossConfig(need_xx=False))


def test_phase1_compiles_once_and_loss_decreases():
  state, batch, inner = _setup()
  traces = []

  def counted(s, b):
    traces.append(1)
    return inner(s, b)

  step = jax.jit(counted)
  losses_seen = []
  for _ in range(60):
    state, m = step(state, batch)
    losses_seen.append(float(m["loss"]))
  assert len(traces) == 1
  assert int(state.step) == 60
  assert losses_seen[-1] < 0.5 * losses_seen[0]


def test_hypernetwork_runs_once_per_mu():
  """The jaxpr of the loss holds the hypernetwork's first layer exactly once, batched over mu
  only (shape (n_mu, width)), never over points."""
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  jaxpr = jax.make_jaxpr(
    lambda p: phase1_loss(p, TINY_MODEL, make_pde(), LossConfig(need_xx=False), batch)[0]
  )(state.params)
  text = str(jaxpr)
  n_mu, w = batch.mus.shape[0], TINY_MODEL.hyper_width
  assert "tanh" in text

  # the meta layers' outputs are (n_mu, w); nothing with a points axis passes through them
  def eqns(jx):  # every equation, also those inside nested jitted calls (hyper_s is one)
    for eqn in jx.eqns:
      yield eqn
      for sub in jax.extend.core.jaxprs_in_params(eqn.params):
        yield from eqns(sub)

  shapes = [
    str(v.aval.shape)
    for eqn in eqns(jaxpr.jaxpr)
    if eqn.primitive.name == "tanh"
    for v in eqn.outvars
  ]
  assert f"({n_mu}, {w})" in shapes


def test_orthogonality_forms_hand_computed():
  u = jnp.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])  # U^T U - I = diag(0, 3)
  v = jnp.eye(3, 2)  # orthonormal
  params = {"lowrank_0": {"U": u, "V": v}}
  np.testing.assert_allclose(losses.orthogonality(params, 1, "paper"), 9.0, rtol=1e-6)
  np.testing.assert_allclose(losses.orthogonality(params, 1, "official"), 3.0 / 4, rtol=1e-5)
  np.testing.assert_allclose(losses.orthogonality(params, 1, "paper", w_u=0.5), 4.5, rtol=1e-6)
  g = jax.grad(lambda p: losses.orthogonality(p, 1, "official"))({"lowrank_0": {"U": v, "V": v}})
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(g))


def test_loss_weights_scale_only_their_term():
  """weights (("bc", 10), ("ic", 0)): total = f + 10 bc + 0 ic + ortho, terms reported
  unweighted."""
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  pde = make_pde()
  plain = phase1_loss(state.params, TINY_MODEL, pde, LossConfig(need_xx=False), batch)[1]
  cfg = LossConfig(need_xx=False, weights=(("bc", 10.0), ("ic", 0.0)))
  total, m = phase1_loss(state.params, TINY_MODEL, pde, cfg, batch)
  for k in ("f", "ic", "bc", "ortho"):
    np.testing.assert_allclose(m[k], plain[k], rtol=1e-6)
  np.testing.assert_allclose(total, plain["f"] + 10 * plain["bc"] + plain["ortho"], rtol=1e-5)


def test_s_l1_is_the_mean_sum_of_s_and_weighs_zero_unless_named():
  """The "s_l1" term is the mean over mu of sum_l sum_i s_l(mu)_i (hyper_s by hand); it is left
  out of the total by default and adds w times itself with weights (("s_l1", w),)."""
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  pde = make_pde()
  total, m = phase1_loss(state.params, TINY_MODEL, pde, LossConfig(need_xx=False), batch)
  by_hand = np.mean(
    [
      sum(float(jnp.sum(v)) for v in hyper_s(TINY_MODEL, state.params["hyper"], mu))
      for mu in batch.mus
    ]
  )
  np.testing.assert_allclose(m["s_l1"], by_hand, rtol=1e-5)
  np.testing.assert_allclose(total, m["f"] + m["ic"] + m["bc"] + m["ortho"], rtol=1e-6)
  cfg = LossConfig(need_xx=False, weights=(("s_l1", 0.5),))
  weighted = phase1_loss(state.params, TINY_MODEL, pde, cfg, batch)[0]
  np.testing.assert_allclose(weighted, total + 0.5 * m["s_l1"], rtol=1e-5)


def test_s_l1_steps_switches_the_pressure_off_after_that_step():
  """With s_l1_steps = 1 the step's total carries 0.5 s_l1 at step 0 and not at step 1; the
  other terms keep their weight 1 (the reported terms are unweighted)."""
  state, batch, _ = _setup()
  cfg = LossConfig(need_xx=False, weights=(("s_l1", 0.5),), s_l1_steps=1)
  step = jax.jit(make_phase1_step(TINY_MODEL, make_pde(), optax.adam(1e-2), cfg))
  for k, w in ((0, 0.5), (1, 0.0)):
    assert int(state.step) == k
    state, m = step(state, batch)
    plain = m["f"] + m["ic"] + m["bc"] + m["ortho"]
    np.testing.assert_allclose(m["loss"], plain + w * m["s_l1"], rtol=1e-5)


def test_mu_weights_average_only_included_mu():
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  pde, lc = make_pde(), LossConfig(need_xx=False)
  weighted = phase1_loss(
    state.params, TINY_MODEL, pde, lc, batch._replace(mu_weights=jnp.array([1.0, 0.0, 1.0]))
  )[1]
  subset = phase1_loss(
    state.params, TINY_MODEL, pde, lc, batch._replace(mus=batch.mus[jnp.array([0, 2])])
  )[1]
  for k in ("loss", "f", "ic", "bc"):
    np.testing.assert_allclose(weighted[k], subset[k], rtol=1e-6)


def test_mu_batch_subsamples_the_mu():
  """mu_batch = 2 of 3: the step's loss is the loss of a 2-mu subset, not the full-batch loss."""
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  pde = make_pde()
  fn = jax.jit(
    make_phase1_step(TINY_MODEL, pde, optax.sgd(0.0), LossConfig(need_xx=False, mu_batch=2))
  )
  sub = float(fn(state, batch)[1]["loss"])
  lc = LossConfig(need_xx=False)
  pairs = [
    float(
      phase1_loss(state.params, TINY_MODEL, pde, lc, batch._replace(mus=batch.mus[jnp.array(ij)]))[
        0
      ]
    )
    for ij in ((0, 1), (0, 2), (1, 2))
  ]
  assert min(abs(sub - p) for p in pairs) < 1e-6 * abs(sub)
  assert abs(sub - float(phase1_loss(state.params, TINY_MODEL, pde, lc, batch)[0])) > 1e-6


def test_default_hyper_init_splits_a_centred_mu_range_and_s_init_does_not():
  """Default init (zero biases) with mu normalised to [-1, 1]: the hypernetwork's features are odd
  in mu, so the ReLU heads are 0 at the centre and mu, -mu use disjoint entries of s.
  s_init = c: s(mu) = c for every mu (zero head kernels, bias c)."""
  mus = jnp.array([[-1.0, 0, 0], [-0.5, 0, 0], [0.0, 0, 0], [0.5, 0, 0], [1.0, 0, 0]])
  s_of = lambda cfg, p: np.stack([np.concatenate(hyper_s(cfg, p["hyper"], m)) for m in mus])
  s = s_of(TINY_MODEL, init_params(TINY_MODEL, jax.random.key(0)))
  assert np.all(s[2] == 0.0)
  assert np.all(s[:2] * s[:2:-1] == 0.0) and np.any(s[:2] > 0) and np.any(s[3:] > 0)
  cfg = dataclasses.replace(TINY_MODEL, s_init=0.7)
  np.testing.assert_array_equal(s_of(cfg, init_params(cfg, jax.random.key(0))), np.float32(0.7))


def test_per_mu_path_equals_the_vmap():
  """map_mu unrolls over mu for large steps; the loss terms and their gradients match the vmap."""
  from lrpinn_jax.fit.phase1 import map_mu

  state, batch, _ = _setup()
  pde = make_pde()

  def per_mu(params, width):
    def fn(mu):
      u = point_fn(TINY_MODEL, params["net"], hyper_s(TINY_MODEL, params["hyper"], mu))
      return losses.pinn_losses(u, pde, mu, batch.points, need_xx=False)

    out = map_mu(fn, batch.mus, batch.points, width)
    return sum(jnp.mean(v) for v in out.values()), out

  # jitted: op-by-op dispatch of the unjitted gradient compiles every primitive on its own
  small = jax.jit(jax.value_and_grad(lambda p: per_mu(p, 1)[0]))(state.params)
  large = jax.jit(jax.value_and_grad(lambda p: per_mu(p, 10**9)[0]))(state.params)  # per mu
  np.testing.assert_allclose(small[0], large[0], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(small[1]), jax.tree.leaves(large[1])):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_rank_tol_truncates_s_for_use_but_not_for_phase1():
  """ModelConfig.rank_tol zeroes the smallest entries of each s_l while their squares sum to at
  most tol^2 ||s_l||^2 (checked by sorting by hand); Phase 1's loss trains the untruncated s
  (the same loss and metrics as rank_tol = 0: one program's float32 results, compared exactly)."""
  from lrpinn_jax.fit.phase1 import phase1_loss

  state, batch, _ = _setup()
  pde = make_pde()
  tol = 0.3
  cut = dataclasses.replace(TINY_MODEL, rank_tol=tol)
  mu = batch.mus[1]
  for full, kept in zip(
    hyper_s(TINY_MODEL, state.params["hyper"], mu), hyper_s(cut, state.params["hyper"], mu)
  ):
    full, kept = np.asarray(full, np.float64), np.asarray(kept)
    order = np.argsort(full)
    n_drop = int(np.sum(np.cumsum(full[order] ** 2) <= tol**2 * np.sum(full**2)))
    expect = full.copy()
    expect[order[:n_drop]] = 0.0
    assert n_drop > 0
    np.testing.assert_array_equal(kept, expect.astype(np.float32))
  loss_cfg = LossConfig(need_xx=False)
  plain = phase1_loss(state.params, TINY_MODEL, pde, loss_cfg, batch)[1]
  truncated = phase1_loss(state.params, cut, pde, loss_cfg, batch)[1]
  for k in plain:
    np.testing.assert_array_equal(truncated[k], plain[k])
