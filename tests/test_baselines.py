"""Baselines: each lowers its loss on a tiny problem; MAML's inner step and meta-gradients against
hand computation; S2S segments join continuously; parameter counts as in the paper's Table 3."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lrpinn_jax.baselines import curriculum, meta, nets, s2s
from lrpinn_jax.baselines.fit import fit, pinn_loss
from lrpinn_jax.fit.data import DataConfig, train_batch
from lrpinn_jax.pdes.registry import make_pde

TINY = DataConfig(n_f=64, n_0=32, n_b=16, n_test=64)
MU = np.array([2.0, 0.0, 0.0], np.float32)


def _points(pde):
  return jax.tree.map(jnp.asarray, train_batch(pde, TINY, 0))


def test_parameter_counts_match_the_paper():
  key = jax.random.key(0)
  init = lambda net: jax.eval_shape(net.init, key)  # counts need shapes only, nothing computed
  assert nets.count(init(nets.pinn())) == 10401
  for r, expected in zip((10, 20, 30, 40, 50), (381, 411, 441, 471, 501)):
    net = nets.naive_lr(r)
    p = init(net)
    assert net.paper_count(p) == expected
    assert nets.count(p) == expected + 3 * 2 * 50 * r  # plus the bases U, V of 3 layers
  assert nets.count(init(nets.pinn_p(3, (0, 0, 0), (1, 1, 1)))) == 10401 + 3 * 50


@pytest.mark.parametrize(
  "make",
  [lambda: nets.pinn(), lambda: nets.naive_lr(5), lambda: nets.pinn_p(3, (2.0, 0, 0), (1.0, 1, 1))],
)
def test_each_network_lowers_its_loss(make):
  pde = make_pde("convection")
  net = make()
  loss = pinn_loss(net, pde, _points(pde), need_xx=False)
  p0 = net.init(jax.random.key(0))
  p1, info = fit(loss, p0, MU, steps=60, lr=1e-3)
  assert info["loss"] < 0.8 * float(loss(p0, jnp.asarray(MU)))
  assert float(loss(p1, jnp.asarray(MU))) < float(loss(p0, jnp.asarray(MU)))


def test_fit_reports_steps_to_target():
  loss = lambda p, c: jnp.sum((p - c) ** 2)
  ev = lambda p: jnp.abs(p - 1.0).max()
  _, info = fit(loss, jnp.zeros(2), jnp.ones(2), steps=400, lr=0.05, eval_fn=ev, eval_every=50)
  assert info["curve"][0] == (0, 1.0)
  first = next(s for s, e in info["curve"] if e <= 0.05)
  assert info["steps_to_target"] == first and 0 < first <= 400
  # training seconds up to that check: some (at least one compiled chunk), not more than all
  assert 0 < info["seconds_to_target"] <= info["seconds"]
  _, never = fit(loss, jnp.zeros(2), jnp.ones(2), steps=2, lr=0.05, eval_fn=ev, eval_every=1)
  assert never["steps_to_target"] is None and never["seconds_to_target"] is None


def test_maml_inner_update_is_one_hand_computed_sgd_step():
  a, lr = 3.0, 0.1
  loss = lambda p, c: 0.5 * a * jnp.sum((p["w"] - c) ** 2)
  p = {"w": jnp.array([1.0, -2.0])}
  c = jnp.array([0.5, 0.5])
  out = meta.inner_sgd(loss, p, c, steps=1, lr=lr)
  np.testing.assert_allclose(out["w"], p["w"] - lr * a * (p["w"] - c), rtol=1e-6)
  out2 = meta.inner_sgd(loss, p, c, steps=2, lr=lr)
  w1 = p["w"] - lr * a * (p["w"] - c)
  np.testing.assert_allclose(out2["w"], w1 - lr * a * (w1 - c), rtol=1e-6)


@pytest.mark.parametrize("method,factor", [("maml", 1 - 0.1 * 3.0), ("maml_fo", 1.0)])
def test_maml_meta_gradient_second_and_first_order(method, factor):
  # support loss 0.5 a |p - c|^2, query loss 0.5 b |p' - d|^2 with p' = p - lr a (p - c):
  # d query / dp = (1 - lr a) b (p' - d) (second order), b (p' - d) (first order)
  a, b, lr = 3.0, 2.0, 0.1
  support = lambda p, c: 0.5 * a * jnp.sum((p - c) ** 2)
  query = lambda p, c: 0.5 * b * jnp.sum((p - 2 * c) ** 2)
  p = jnp.array([1.0, -1.0])
  c = jnp.array([0.3, 0.2])
  sgd = optax.sgd(1.0)
  step = meta.make_meta_step(method, support, query, inner_steps=1, inner_lr=lr, outer=sgd)
  (p_new, _), _ = step((p, sgd.init(p)), c[None])
  p1 = p - lr * a * (p - c)
  grad = factor * b * (p1 - 2 * c)
  np.testing.assert_allclose(p_new, p - grad, rtol=1e-5)


def test_reptile_moves_toward_the_adapted_weights():
  loss = lambda p, c: 0.5 * jnp.sum((p - c) ** 2)
  p = jnp.zeros(2)
  mus = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  step = meta.make_meta_step(
    "reptile", loss, loss, inner_steps=1, inner_lr=0.5, outer=optax.sgd(1.0), reptile_eps=0.2
  )
  (p_new, _), _ = step((p, None), mus)
  # each task adapts to 0.5 * c; the mean adapted point is (0.25, 0.25)
  np.testing.assert_allclose(p_new, 0.2 * np.array([0.25, 0.25]), rtol=1e-6)


def test_meta_training_lowers_the_query_loss():
  pde = make_pde("convection")
  net = nets.naive_lr(4)
  loss = pinn_loss(net, pde, _points(pde), need_xx=False)
  mus = np.array([[1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]], np.float32)
  p0 = net.init(jax.random.key(0))
  before = np.mean([float(loss(p0, jnp.asarray(m))) for m in mus])
  p1, _ = meta.meta_train(
    "maml",
    p0,
    loss,
    loss,
    mus,
    steps=20,
    inner_steps=2,
    inner_lr=1e-3,
    outer_lr=1e-3,
    task_batch=2,
    seed=0,
  )
  after = np.mean([float(loss(p1, jnp.asarray(m))) for m in mus])
  assert after < before


def test_s2s_segments_join_continuously():
  pde = make_pde("convection")
  net = nets.pinn(width=16, depth=2)
  plist, info = s2s.train(net, pde, MU, TINY, 0, segments=3, steps=1500, lr=3e-3, need_xx=False)
  bounds = s2s.segment_bounds(pde, 3)
  np.testing.assert_allclose(bounds, [0, 1 / 3, 2 / 3, 1], atol=1e-12)
  x = jnp.linspace(0, 2 * np.pi, 50)
  mu = jnp.asarray(MU)
  for k in (1, 2):
    t = jnp.full_like(x, bounds[k])
    left = jax.vmap(net.apply(plist[k - 1], mu))(x, t)
    right = jax.vmap(net.apply(plist[k], mu))(x, t)
    # segment k's initial data are segment k-1's values here; the seam is as continuous as that
    # fit (the initial misfit, a mean square in the loss)
    jump = np.abs(np.asarray(left - right))
    assert jump.mean() < 0.02 and jump.max() < 0.1
  # the joined predictor uses segment k on [t_k, t_{k+1})
  t = jnp.array([0.1, 0.5, 0.9, 1.0])
  u = s2s.predict(net, plist, bounds, MU, jnp.ones(4), t)
  expect = [net.apply(plist[k], mu)(jnp.float32(1.0), tk) for k, tk in zip((0, 1, 2, 2), t)]
  np.testing.assert_allclose(u, np.array(expect), rtol=1e-6)
  assert info["steps"] == 1500


def test_curriculum_stages_and_training():
  np.testing.assert_allclose(
    curriculum.stages([30.0, 0, 0], 3), [[10, 0, 0], [20, 0, 0], [30, 0, 0]]
  )
  pde = make_pde("convection")
  net = nets.pinn(width=16, depth=2)
  loss = pinn_loss(net, pde, _points(pde), need_xx=False)
  p, info = curriculum.train(
    net, pde, MU, _points(pde), 0, n_stages=2, steps=100, lr=1e-3, need_xx=False
  )
  assert info["steps"] == 100
  assert float(loss(p, jnp.asarray(MU))) < float(loss(net.init(jax.random.key(0)), jnp.asarray(MU)))


@pytest.mark.commands
def test_compare_command_end_to_end(tmp_path):
  import json
  import os
  import subprocess
  import sys

  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  wd = tmp_path / "cmp"
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.compare",
      "--beta_range=1,3",
      "--targets=2",
      "--steps=10",
      "--finetune_steps=4",
      "--meta_steps=2",
      "--inner_steps=1",
      "--eval_every=2",
      "--n_f=32",
      "--n_0=16",
      "--n_b=8",
      "--n_test=32",
      "--naive_ranks=10",
      "--s2s_segments=2",
      "--curriculum_stages=2",
      f"--workdir={wd}",
    ],
    cwd=root,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert r.returncode == 0, r.stderr
  out = json.load(open(wd / "compare.json"))
  assert set(out["methods"]) == {
    "pinn",
    "pinn_p",
    "s2s",
    "curriculum",
    "naive_lr_r10",
    "maml",
    "reptile",
    "hyper_lr",
  }
  for name, m in out["methods"].items():
    (row,) = m["targets"]
    assert row["mu"] == [2.0, 0.0, 0.0]
    assert set(row) >= {"mu", "abs_err", "rel_err", "trainable_params", "seconds", "steps_to_0.05"}
    assert np.isfinite(row["rel_err"]) and row["seconds"] >= 0
  assert out["methods"]["naive_lr_r10"]["targets"][0]["trainable_params"] == 381
  assert out["methods"]["pinn"]["targets"][0]["trainable_params"] == 10401
  assert (wd / "compare.md").read_text().count("\n") == 2 + 8
  for name in ("pinn", "hyper_lr"):  # both counts of paper Fig. 6, null when never reached
    (row,) = out["methods"][name]["targets"]
    assert (row["steps_to_0.05"] is None) == (row["seconds_to_0.05"] is None)
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from experiments import plots

  plots.fig_steps_to(plt, [str(wd / "compare.json")], str(tmp_path / "fig6.png"))
  assert (tmp_path / "fig6.png").stat().st_size > 10_000


def test_compare_command_refuses_an_unknown_method(tmp_path):
  from tests.conftest import assert_one_line_error, cli_cases

  (bad,) = cli_cases(
    "experiments.compare", [["--methods=pinn,foo", f"--workdir={tmp_path / 'x'}"]], tmp_path
  )
  assert_one_line_error(bad, "unknown ['foo']")
