"""Orbax checkpoints: round trip, bit-for-bit resume, load(workdir), NaN guard, bad checkpoints."""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrpinn_jax
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import train
from lrpinn_jax.fit.data import train_batch
from lrpinn_jax.fit.phase1 import LossConfig, predict
from lrpinn_jax.pdes.registry import make_pde
from tests.conftest import FLOAT32_TWO_PROGRAMS, TINY_DATA, TINY_MODEL

MUS = np.array([[1.0, 0, 0], [2.0, 0, 0]], np.float32)


def _fit(workdir, steps, resume=False, pde=None, ckpt_every=2, optimizer="adam"):
  pde = pde or make_pde("convection")
  return train.fit_phase1(
    TINY_MODEL,
    pde,
    MUS,
    train_batch(make_pde(), TINY_DATA, 0),
    steps=steps,
    lr=1e-2,
    seed=0,
    workdir=str(workdir),
    resume=resume,
    optimizer=optimizer,
    loss_cfg=LossConfig(need_xx=False),
    log_every=1000,
    ckpt_every=ckpt_every,
    log=lambda *_: None,
  )[0]


def _leaves_equal(a, b):
  return all(
    np.array_equal(np.asarray(x), np.asarray(y))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
  )


@pytest.mark.parametrize("optimizer", ["adam", "soap"])
def test_resume_is_bit_for_bit(tmp_path, optimizer):
  """SOAP refreshes its eigenbases every 10 steps: 12 steps resumed at 7 cross a refresh."""
  n, k = (6, 3) if optimizer == "adam" else (12, 7)
  straight = _fit(tmp_path / "a", n, optimizer=optimizer)
  _fit(tmp_path / "b", k, optimizer=optimizer)
  resumed = _fit(tmp_path / "b", n, resume=True, optimizer=optimizer)
  assert int(resumed.step) == n
  assert _leaves_equal(straight.params, resumed.params)
  assert _leaves_equal(straight.opt_state, resumed.opt_state)


def test_load_returns_solver_of_latest_checkpoint(tmp_path):
  state = _fit(tmp_path, 4)
  solver = lrpinn_jax.load(str(tmp_path))
  x = jnp.linspace(0, 6, 10)
  t = jnp.linspace(0, 1, 10)
  # The Solver call and phase1.predict are two compiled programs (FLOAT32_TWO_PROGRAMS)
  np.testing.assert_allclose(
    np.asarray(solver(x, t, MUS[1])),
    np.asarray(predict(TINY_MODEL, state.params, MUS[1:], x, t)[0]),
    **FLOAT32_TWO_PROGRAMS,
  )
  assert solver.info["step"] == 4 and solver.config == TINY_MODEL


def test_refuses_to_overwrite_and_resume_needs_checkpoint(tmp_path):
  _fit(tmp_path / "a", 2)
  with pytest.raises(UserError, match="already holds checkpoints"):
    _fit(tmp_path / "a", 2)
  with pytest.raises(UserError, match="no checkpoint"):
    _fit(tmp_path / "empty", 2, resume=True)


def test_missing_and_corrupted_checkpoint(tmp_path):
  with pytest.raises(UserError, match="not an lrpinn_jax workdir"):
    lrpinn_jax.load(str(tmp_path / "nothing"))
  _fit(tmp_path, 2)
  step_dir = tmp_path / "checkpoints" / "2"
  for root, _, files in os.walk(step_dir):
    for f in files:
      with open(os.path.join(root, f), "wb") as fh:
        fh.write(b"garbage")
  with pytest.raises(UserError, match="cannot restore checkpoint"):
    lrpinn_jax.load(str(tmp_path))
  with pytest.raises(UserError, match="cannot restore checkpoint"):
    _fit(tmp_path, 4, resume=True)


def _nan_pde():
  """The convection problem with a residual that is NaN everywhere."""
  pde = make_pde()
  return dataclasses.replace(pde, residual=lambda u, z, mu: pde.residual(u, z, mu) * jnp.nan)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  _fit(tmp_path, 2)
  with pytest.raises(train.Diverged, match="non-finite at step 3.*last good checkpoint: step 2"):
    _fit(tmp_path, 6, resume=True, pde=_nan_pde(), ckpt_every=1)
  solver = lrpinn_jax.load(str(tmp_path))
  assert solver.info["step"] == 2
  assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(solver.params))


def test_training_clock_survives_resume(tmp_path):
  """History lines carry the training clock; a resumed run continues it from its checkpoint step
  and returns the seconds of the whole training, and a finished run restores without a step."""
  import json

  def fit(steps, resume):
    return train.fit_phase1(
      TINY_MODEL,
      make_pde(),
      MUS,
      train_batch(make_pde(), TINY_DATA, 0),
      steps=steps,
      lr=1e-2,
      seed=0,
      workdir=str(tmp_path),
      resume=resume,
      loss_cfg=LossConfig(need_xx=False),
      log_every=2,
      ckpt_every=2,
      log=lambda *_: None,
    )[1]

  first = fit(4, False)
  hist = [json.loads(l) for l in open(tmp_path / train.HISTORY_FILE)]
  assert [h["step"] for h in hist] == [2, 4]
  assert 0 < hist[0]["seconds"] < hist[1]["seconds"] <= first
  total = fit(6, True)
  hist = [json.loads(l) for l in open(tmp_path / train.HISTORY_FILE)]
  assert [h["step"] for h in hist] == [2, 4, 6] and hist[2]["seconds"] > hist[1]["seconds"]
  assert total > hist[1]["seconds"] and train.latest_step(str(tmp_path)) == 6
  assert fit(6, True) == pytest.approx(hist[2]["seconds"], abs=0.5)  # restored: no new step


def test_seconds_to_threshold_from_history():
  from benchmarks._tta import seconds_to

  hist = [
    {"seconds": 1.0, "test_rel_err_max": 0.2},
    {"seconds": 2.0, "test_rel_err_max": 0.09},
    {"seconds": 3.0, "test_rel_err_max": 0.12},
    {"seconds": 4.0, "test_rel_err_max": 0.04},
  ]
  assert seconds_to(hist, 0.10) == 2.0 and seconds_to(hist, 0.05) == 4.0
  assert seconds_to(hist, 0.01) is None


def test_model_json_of_earlier_formats_and_the_former_names():
  # model.json before mu_dim, periods and Problem.exact_initial: n_mu, x_period, t0 and a CDR
  # initial condition's name in hard_ic (results/rd_5_10/model.json is such a file).
  import json

  from lrpinn_jax.nn.model import ModelConfig

  old = json.load(
    open(os.path.join(os.path.dirname(__file__), "..", "results", "rd_5_10", "model.json"))
  )["model"]
  assert {"n_mu", "x_period", "t0"} <= set(old)
  cfg = ModelConfig.from_dict(old)
  assert cfg.mu_dim == 3 and cfg.periods == (2 * np.pi, 0.0) and cfg.hard_ic == "gauss_pi_4"
  assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
  with pytest.warns(DeprecationWarning, match="mu_dim"):
    assert ModelConfig(n_mu=2, mu_shift=(0, 0), mu_scale=(1, 1)).mu_dim == 2
  with pytest.warns(DeprecationWarning, match="mu_dim"):
    assert cfg.n_mu == 3
  with pytest.warns(DeprecationWarning, match="Problem.mu_dim"):
    assert make_pde("burgers").n_mu == 2


def test_phase2_model_round_trip_npz_and_the_former_orbax_layout(tmp_path):
  """save_phase2 writes phase2.npz (no orbax checkpoint); load gives back every parameter bit for
  bit and the same u. A Phase-2 workdir in the former layout (orbax checkpoints/<step>) loads to
  the same model."""
  import optax

  from lrpinn_jax.fit.phase2 import init_phase2, merge_net
  from lrpinn_jax.io import checkpoint

  pde, mu = make_pde("convection"), np.array([1.5, 0.0, 0.0], np.float32)
  params = lrpinn_jax.init_params(TINY_MODEL, jax.random.key(3))
  state = init_phase2(TINY_MODEL, params, mu, optax.adam(1e-3))
  net, s = merge_net(state.trainable, state.frozen)
  checkpoint.save_phase2(
    str(tmp_path / "new"), TINY_MODEL, pde, mu, state.trainable, state.frozen, 7
  )
  assert sorted(os.listdir(tmp_path / "new")) == ["model.json", "phase2.npz"]
  new = lrpinn_jax.load(str(tmp_path / "new"))
  assert new.info["step"] == 7 and new.info["kind"] == "phase2"
  for a, b in zip(
    jax.tree.leaves((net, list(s))), jax.tree.leaves((new.params["net"], list(new.params["s"])))
  ):
    np.testing.assert_array_equal(a, b)
  old_wd = str(tmp_path / "old")  # what save_phase2 wrote before phase2.npz
  checkpoint.write_model_info(
    old_wd, TINY_MODEL, pde, "phase2", mu=mu.tolist(), ranks=[int(v.shape[0]) for v in s]
  )
  ocp = checkpoint._ocp()
  with checkpoint.manager(old_wd) as mngr:
    mngr.save(7, args=ocp.args.Composite(params=ocp.args.StandardSave({"net": net, "s": list(s)})))
    mngr.wait_until_finished()
  old = lrpinn_jax.load(old_wd)
  x, t = np.linspace(0, 6, 5), np.linspace(0, 1, 5)
  np.testing.assert_array_equal(old(x, t, mu), new(x, t, mu))  # the same parameters, one program
