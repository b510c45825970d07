"""Batched many-query Phase 2 equals the per-mu Phase 2; options of Phase 1 behave as stated."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.fit import train
from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.fit.phase1 import LossConfig, make_batch, resample_points
from lrpinn_jax.fit.phase2 import predict
from lrpinn_jax.io import interop
from lrpinn_jax.nn.model import ModelConfig, init_params, point_fn
from lrpinn_jax.pdes.registry import make_pde
from lrpinn_jax.query import many_query
from tests.conftest import TINY_DATA


@pytest.mark.parametrize("optimizer", ["lm", "lm_geodesic_pcg"])
def test_vmapped_phase2_equals_per_mu_phase2(optimizer):
  """Four LM steps of the batched program and of the per-mu program, in float64 (plain LM, and
  LM with geodesic acceleration and refined steps).

  In float32 the two compiled programs round differently, and LM feeds that rounding back through
  its accept / reject decisions and damping: after 4 steps the fitted u differed by up to 5e-4
  (measured on two machines of one kind), the same size as a real difference between the
  algorithms. In float64 the rounding is 1e-16 relative and the same 4 steps agree to 3e-13
  (measured), so 1e-9 (the float64 rounding amplified by the condition number of the
  column-scaled normal equations, up to ~1e6 here, over 4 steps) tests that the two programs do
  the same arithmetic. The float32 path of both programs is run by the other many-query tests."""
  from tests.conftest import ref_path

  with jax.enable_x64(True):
    solver = interop.load_official(ref_path("phase1.npz"), dtype=np.float64)
    cfg, params = solver.config, solver.params
    pde = make_pde("convection")
    mus = np.array([[32.5, 0, 0], [40.0, 0, 0], [44.0, 0, 0]], np.float64)
    points = train_batch(pde, TINY_DATA, 0)
    lc = LossConfig(need_xx=False)
    res = many_query.run_many(
      cfg, pde, params, mus, points, steps=4, loss_cfg=lc, lm_cfg=train.LM_OPTIMIZERS[optimizer]
    )
    x = jnp.linspace(0.1, 6.0, 40)
    t = jnp.linspace(0.0, 1.0, 40)
    batched = many_query.predict_many(cfg, res.trainable, res.frozen, x, t)
    assert batched.dtype == jnp.float64
    counts = many_query.trainable_counts(res.trainable, res.frozen)
    for i, mu in enumerate(mus):
      tr, fr, info = train.fit_phase2(
        cfg,
        pde,
        params,
        mu,
        points,
        steps=4,
        optimizer=optimizer,
        rank_mode="adaptive",
        loss_cfg=lc,
        log=lambda *_: None,
      )
      np.testing.assert_allclose(batched[i], predict(cfg, tr, fr, x, t), rtol=0, atol=1e-9)
      assert counts[i] == sum(int(v.shape[0]) for v in tr["s"]) + 201
  assert counts[1] == 294  # official beta = 40: ranks (29, 30, 34)


def test_periodic_embedding_is_exactly_periodic():
  cfg = ModelConfig(
    width=8, n_lowrank=2, rank=8, hyper_width=8, hyper_depth=2, periods=(2 * np.pi, 0.0)
  )
  params = init_params(cfg, jax.random.key(1))
  s = tuple(jnp.ones(8) for _ in range(2))
  u = point_fn(cfg, params["net"], s)
  t = jnp.float32(0.37)
  np.testing.assert_allclose(u(jnp.float32(0.0), t), u(jnp.float32(2 * np.pi), t), atol=1e-6)
  assert params["net"]["start"]["kernel"].shape == (3, 8)


def test_sine_start_layer_by_hand():
  """sine_start = omega: h_0 = sin(omega (W0 z + b0)), then the low-rank tanh layers as before."""
  cfg = ModelConfig(width=6, n_lowrank=1, rank=4, hyper_width=8, hyper_depth=2, sine_start=7.0)
  assert ModelConfig.from_dict(__import__("json").loads(cfg.to_json())) == cfg
  p = init_params(cfg, jax.random.key(3))["net"]
  s = (jnp.array([1.0, 0.5, 0.0, 2.0]),)
  z = np.array([0.3, -0.8])
  h0 = np.sin(7.0 * (z @ p["start"]["kernel"] + p["start"]["bias"]))
  lr = p["lowrank_0"]
  h1 = np.tanh(h0 @ np.asarray(lr["V"]) * np.asarray(s[0]) @ np.asarray(lr["U"]).T + lr["b"])
  want = h1 @ p["end"]["kernel"][:, 0] + p["end"]["bias"][0]
  np.testing.assert_allclose(point_fn(cfg, p, s)(*map(jnp.float32, z)), want, rtol=1e-5, atol=1e-6)


def test_resampling_is_a_pure_function_of_the_step():
  pde = make_pde("convection")
  pts = make_batch(np.zeros((1, 3)), train_batch(pde, TINY_DATA, 0)).points
  key = jax.random.key(0)
  a, b, c = (resample_points(pde, pts, key, k) for k in (3, 3, 4))
  np.testing.assert_array_equal(a["f"], b["f"])
  assert not np.array_equal(a["f"], c["f"])
  assert float(a["f"][:, 0].min()) >= 0 and float(a["f"][:, 0].max()) < 2 * np.pi
  np.testing.assert_array_equal(a["ic"], pts["ic"])


def test_causal_weights_hand_computed():
  """Two time bins with residual^2 means L1, L2: f = (L1 + exp(-eps L1) L2) / 2."""
  from lrpinn_jax.fit import losses

  pde = make_pde("convection")
  # u = c t: residual u_t + beta u_x = c everywhere; pick points so bin means differ by design
  batch = {
    "f": jnp.array([[1.0, 0.1], [2.0, 0.2], [3.0, 0.7], [4.0, 0.9]]),
    "ic": jnp.array([[0.0, 0.0]]),
    "bc": jnp.array([[0.0, 0.5]]),
    "bc_x": jnp.array([[0.0, 0.5]]),
  }
  u = lambda x, t: t * t  # residual 2t: bin 1 mean (0.04 + 0.16) / 2, bin 2 (1.96 + 3.24) / 2
  mu = jnp.array([0.0, 0.0, 0.0])
  out = losses.pinn_losses(u, pde, mu, batch, causal_eps=3.0, causal_bins=2)
  l1, l2 = 0.1, 2.6
  np.testing.assert_allclose(out["f"], (l1 + np.exp(-3.0 * l1) * l2) / 2, rtol=1e-5)


def test_per_mu_stopping_rule_stops_converged_mu_and_continues_the_others():
  """Stop(window=2): at the end of steps 3-4 the mu whose loss fell by less than rel_tol stops,
  the other runs on to the budget (5 steps); each equals the unmasked run of as many steps, in
  float64 (see above), and the JSON-facing counts say which stopped."""
  from tests.conftest import ref_path

  with jax.enable_x64(True):
    solver = interop.load_official(ref_path("phase1.npz"), dtype=np.float64)
    cfg, params = solver.config, solver.params
    pde = make_pde("convection")
    mus = np.array([[33.0, 0, 0], [44.0, 0, 0]], np.float64)
    points = train_batch(pde, TINY_DATA, 0)
    lc = LossConfig(need_xx=False)
    run = lambda steps, stop=many_query.Stop(): many_query.run_many(
      cfg, pde, params, mus, points, steps=steps, loss_cfg=lc, stop=stop
    )
    plain = {k: run(k) for k in (2, 4, 5)}
    drop = (plain[2].loss - plain[4].loss) / plain[2].loss  # each mu's decrease over steps 3-4
    assert abs(drop[0] - drop[1]) > 0.05, drop  # the two mu differ, so a threshold splits them
    slow, fast = int(np.argmin(drop)), int(np.argmax(drop))
    res = run(5, many_query.Stop(window=2, rel_tol=float(drop.mean())))
    assert res.steps[slow] == 4 and res.converged[slow]
    assert res.steps[fast] == 5 and not res.converged[fast]
    for i, k in ((slow, 4), (fast, 5)):
      np.testing.assert_allclose(res.loss[i], plain[k].loss[i], rtol=1e-9)
      np.testing.assert_allclose(
        res.trainable["end"]["kernel"][i], plain[k].trainable["end"]["kernel"][i], rtol=0, atol=1e-9
      )


def test_warm_starts_interleave_the_chunks_and_keep_the_order(official_phase1):
  # 6 betas in chunks of 2: chunk j holds betas j and j + 3 (interleaved); the first chunk takes
  # the full budget from the hypernetwork, the later ones warm_steps from the nearest solution;
  # rows come back in the order asked.
  betas = np.linspace(31, 39, 6)
  out = many_query.beta_study(
    official_phase1, betas, steps=3, chunk=2, warm_steps=1, data=TINY_DATA, log=lambda *_: None
  )
  rows = out["betas"]
  np.testing.assert_allclose([r["beta"] for r in rows], betas, rtol=1e-6)
  assert [r["steps"] for r in rows] == [3, 1, 1, 3, 1, 1] and out["warm_steps"] == 1
  assert all(np.isfinite(r["phase2_rel_err"]) for r in rows)
