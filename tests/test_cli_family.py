"""experiments.cdr and experiments.helmholtz end to end on a tiny budget, finetune from their
checkpoints (the checkpoint records its PDE), and their bad inputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import lrpinn_jax
from tests.conftest import assert_one_line_error, cli_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
  "--phase1_steps=4",
  "--phase2_steps=3",
  "--n_f=32",
  "--n_0=16",
  "--n_b=8",
  "--n_test=32",
  "--log_every=2",
  "--ckpt_every=2",
]


def _run(module, *args):
  return subprocess.run(
    [sys.executable, "-m", f"experiments.{module}", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )


@pytest.mark.commands
def test_cdr_end_to_end_batched_then_finetune(tmp_path):
  wd = tmp_path / "rd"
  r = _run(
    "cdr",
    "--pde=reaction_diffusion",
    "--init_cond=gauss_pi_2",
    "--nu_range=1,2",
    "--rho_range=4,5",
    "--phase2_optimizer=lm",
    "--phase2_batched",
    "--mu_batch=2",
    "--rank_mode=adaptive",
    f"--workdir={wd}",
    *TINY,
  )
  assert r.returncode == 0, r.stderr
  assert "ETA" in r.stdout and "one batched call" in r.stdout
  res = json.load(open(wd / "results.json"))
  assert res["phase1"]["train_mu"] == [
    [0.0, 1.0, 4.0],
    [0.0, 1.0, 5.0],
    [0.0, 2.0, 4.0],
    [0.0, 2.0, 5.0],
  ]
  assert [e["mu"] for e in res["results"]] == res["phase1"]["train_mu"]
  assert res["config"]["init_cond"] == "gauss_pi_2" and res["config"]["pde"] == "reaction_diffusion"
  rel = [e["phase2"]["adaptive"]["rel_err"] for e in res["results"]]
  assert res["summary"]["adaptive"]["mean_rel_err"] == pytest.approx(np.mean(rel))
  assert res["summary"]["adaptive"]["max_rel_err"] == pytest.approx(max(rel))
  info = json.load(open(wd / "model.json"))
  assert info["pde"] == "reaction_diffusion" and info["init_cond"] == "gauss_pi_2"
  solver = lrpinn_jax.load(str(wd))
  assert solver.info["pde"] == "reaction_diffusion" and solver.info["init_cond"] == "gauss_pi_2"
  ft = tmp_path / "ft"
  r = _run(
    "finetune",
    f"--checkpoint={wd}",
    "--mu=0,1.5,4.5",
    "--steps=3",
    f"--workdir={ft}",
    "--n_f=32",
    "--n_test=32",
  )
  assert r.returncode == 0, r.stderr
  out = json.load(open(ft / "finetune.json"))
  assert out["mu"] == [0.0, 1.5, 4.5] and len(out["trajectory"]) == 4
  assert lrpinn_jax.load(str(ft)).info["pde"] == "reaction_diffusion"
  r = _run("finetune", f"--checkpoint={wd}", "--mu=1,1.5,4.5", f"--workdir={tmp_path / 'x'}")
  assert r.returncode != 0 and "no beta term" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.commands
def test_cdr_on_an_explicit_mu_set_reports_each_sub_family(tmp_path):
  mu_file = tmp_path / "mu.csv"
  mu_file.write_text("1,0,0\n2,0,0\n0,1,2\n1,1,1\n")
  wd = tmp_path / "family"
  r = _run(
    "cdr", f"--mu_set={mu_file}", "--rank_mode=adaptive", "--mu_batch=2", f"--workdir={wd}", *TINY
  )
  assert r.returncode == 0, r.stderr
  res = json.load(open(wd / "results.json"))
  assert res["phase1"]["train_mu"] == [[1, 0, 0], [2, 0, 0], [0, 1, 2], [1, 1, 1]]
  assert res["config"]["init_cond"] == "gauss_pi_2" and res["config"]["mu_sampling"] == "family"
  fam = res["summary_by_family"]
  assert list(fam) == ["convection", "reaction_diffusion", "cdr"]
  conv = [e["zero_shot"]["rel_err"] for e in res["results"][:2]]
  assert fam["convection"]["count"] == 2
  assert fam["convection"]["zero_shot"]["max_rel_err"] == pytest.approx(max(conv))


@pytest.mark.commands
def test_helmholtz_end_to_end_then_finetune(tmp_path):
  wd = tmp_path / "hh"
  no_p2 = [a for a in TINY if not a.startswith("--phase2_steps")]  # the recipe's 10 steps apply
  r = _run(
    "helmholtz", "--a_range=2,2.2", "--a_step=0.1", "--heldout=2.05", f"--workdir={wd}", *no_p2
  )
  assert r.returncode == 0, r.stderr
  res = json.load(open(wd / "results.json"))
  assert [e["mu"] for e in res["results"]] == [[2.0, 2.0], [2.1, 2.1], [2.2, 2.2], [2.05, 2.05]]
  assert res["config"]["recipe"] == "best" and res["config"]["sine_start"] == 30.0
  assert res["config"]["phase2_optimizer"] == "lm_geodesic" and res["config"]["phase2_steps"] == 10
  assert res["config"]["phase2_batched"] and res["config"]["mu_batch"] == 0  # 3 training a
  for e in res["results"]:
    assert e["phase2"]["full"]["steps"] == 10 and e["phase2"]["full"]["trainable_params"] == 351
  solver = lrpinn_jax.load(str(wd))
  assert solver.config.mu_dim == 2 and solver.info["pde"] == "helmholtz"
  assert solver(np.zeros(3), np.zeros(3), [2.0, 2.0]).shape == (3,)
  ft = tmp_path / "ft"
  r = _run(
    "finetune",
    f"--checkpoint={wd}",
    "--mu=2.3,2.3",
    "--steps=2",
    f"--workdir={ft}",
    "--n_f=32",
    "--n_b=8",
    "--n_test=32",
    "--optimizer=lm_geodesic",
  )
  assert r.returncode == 0, r.stderr
  out = json.load(open(ft / "finetune.json"))
  assert out["mu"] == pytest.approx([2.3, 2.3]) and out["optimizer"] == "lm_geodesic"
  r = _run("finetune", f"--checkpoint={wd}", "--mu=2,2,0", f"--workdir={tmp_path / 'x'}")
  assert r.returncode != 0 and "--mu must be 2 finite numbers a1,a2" in r.stderr


BAD_INPUTS = [
  ("cdr", ["--pde=reaction", "--rho_range=1,5", "--beta_range=1,2"], "no beta term"),
  ("cdr", ["--pde=cdr", "--beta_range=1,2", "--nu_range=1,2"], "pass --rho_range"),
  ("cdr", ["--pde=diffusion", "--nu_range=-1,2"], "nu must be >= 0"),
  ("cdr", ["--pde=reaction", "--rho_range=1,2", "--targets=0,0"], "three numbers"),
  (
    "cdr",
    ["--pde=reaction", "--rho_range=1,2", "--phase2_batched", "--phase2_optimizer=adam"],
    "--phase2_optimizer=lm",
  ),
  ("helmholtz", ["--a_range=3,2"], "--a_range must be 'lo,hi'"),
  ("helmholtz", ["--periodic"], "--periodic needs a Periodic condition"),
  (
    "cdr",
    ["--pde=diffusion", "--nu_range=1,2", "--init_cond=gauss_pi_2", "--hard_ic", "--periodic"],
    "u0' jumps by 0.345",
  ),
  ("helmholtz", ["--sine_start=-1"], "--sine_start must be a finite number >= 0"),
  ("helmholtz", ["--loss_weights=ic=2"], "--loss_weights: expected name=weight pairs"),
  ("helmholtz", ["--rank_tol=1"], "--rank_tol must be below 1"),
  ("helmholtz", ["--s_l1_steps=100"], "--s_l1_steps schedules the rank pressure"),
  ("cdr", ["--mu_set=mu.csv", "--beta_range=1,5"], "--mu_set replaces the grid"),
]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory):
  """Every BAD_INPUTS line through its command's entry point, one subprocess per command."""
  root = tmp_path_factory.mktemp("bad_input")
  runs = {}
  for module in sorted({m for m, _, _ in BAD_INPUTS}):
    idx = [i for i, (m, _, _) in enumerate(BAD_INPUTS) if m == module]
    cases = [[f"--workdir={root / str(i)}", *TINY, *BAD_INPUTS[i][1]] for i in idx]
    (root / module).mkdir()
    runs.update(zip(idx, cli_cases(f"experiments.{module}", cases, root / module)))
  return root, runs


@pytest.mark.parametrize("i", range(len(BAD_INPUTS)), ids=[m for _, _, m in BAD_INPUTS])
def test_bad_input_one_line_error(bad_input_runs, i):
  root, runs = bad_input_runs
  assert_one_line_error(runs[i], BAD_INPUTS[i][2])
  assert not (root / str(i) / "results.json").exists()


def test_negative_s_init_refused():
  """In-process (no subprocess): validate() names the flag in its one-line error."""
  from lrpinn_jax.errors import UserError
  from lrpinn_jax.fit.experiment import ExperimentConfig

  cfg = ExperimentConfig(workdir="unused", train_mu=((30.0, 0.0, 0.0),), targets=(), s_init=-1.0)
  with pytest.raises(UserError, match="--s_init must be a finite number >= 0, got -1.0"):
    cfg.validate()
