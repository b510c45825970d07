"""`python -m experiments.train --problem=FILE` end to end on a tiny budget: a user's problem file
trains, model.json records it, load and finetune rebuild it, and a moved file is one line."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import lrpinn_jax
from lrpinn_jax.pdes import burgers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
  "--phase1_steps=4",
  "--phase2_steps=2",
  "--n_f=32",
  "--phase2_n_f=32",
  "--n_0=16",
  "--n_b=8",
  "--n_test=32",
  "--log_every=2",
  "--ckpt_every=2",
  "--rank_mode=full",
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
def test_train_a_problem_file_then_load_and_finetune(tmp_path):
  src = tmp_path / "my_burgers.py"  # the built-in file, as a user's own copy would be
  shutil.copy(burgers.__file__, src)
  wd = tmp_path / "run"
  r = _run(
    "train",
    f"--problem={src}",
    f"--workdir={wd}",
    "--mu_grid=2",
    "--targets=0.01,0.9;0.02,0.6",
    *TINY,
  )
  assert r.returncode == 0, r.stderr
  res = json.load(open(wd / "results.json"))
  lo, hi = burgers.problem.mu_box.T
  assert np.allclose(
    res["phase1"]["train_mu"], [[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], lo[1]], [hi[0], hi[1]]]
  )
  assert res["config"]["pde"] == str(src) and res["config"]["recipe"] == "best"
  # the problem's own recipe (its name is "burgers"), explicit flags on top
  assert res["config"]["optimizer"] == "soap" and res["config"]["phase1_steps"] == 4
  assert res["config"]["phase2_n_f"] == 32
  assert [e["mu"] for e in res["results"]] == [[0.01, 0.9], [0.02, 0.6]]
  assert all(np.isfinite(e["phase2"]["full"]["rel_err"]) for e in res["results"])
  assert json.load(open(wd / "model.json"))["pde"] == str(src)
  solver = lrpinn_jax.load(str(wd))
  assert solver.config.n_in == 2 and solver.config.mu_dim == 2
  assert solver(np.zeros((2, 3)), np.ones((2, 3)), [0.02, 0.7]).shape == (2, 3)
  ft = tmp_path / "ft"
  r = _run(
    "finetune",
    f"--checkpoint={wd}",
    "--mu=0.02,0.7",
    "--steps=2",
    f"--workdir={ft}",
    "--n_f=32",
    "--n_0=16",
    "--n_b=8",
    "--n_test=32",
  )
  assert r.returncode == 0, r.stderr
  assert json.load(open(ft / "finetune.json"))["mu"] == pytest.approx([0.02, 0.7])
  os.remove(src)  # the model's problem file moved: every command that needs it says so
  r = _run("finetune", f"--checkpoint={wd}", "--mu=0.02,0.7", f"--workdir={tmp_path / 'x'}")
  assert r.returncode != 0 and r.stderr.strip().splitlines() == [
    f"error: problem file not found: {src}"
  ]


def test_bad_input_one_line_errors(tmp_path):
  from tests.conftest import assert_one_line_error, cli_cases

  cases = [
    (["--problem=convection"], "is a PDE of the built-in family"),
    ([], "--problem is required"),
    (["--problem=burgers", "--targets=1,2,3"], "each mu is two numbers nu,A"),
    (["--problem=kovasznay", "--hard_ic"], "--hard_ic needs exactly one Initial condition"),
    (["--problem=kovasznay", "--periodic"], "--periodic needs a Periodic condition"),
    (["--problem=nothing_here.py"], "problem file not found: nothing_here.py"),
  ]
  runs = cli_cases(
    "experiments.train",
    [[f"--workdir={tmp_path / str(i)}", *args, *TINY] for i, (args, _) in enumerate(cases)],
    tmp_path,
  )
  for i, (run, (_, message)) in enumerate(zip(runs, cases)):
    assert_one_line_error(run, message)
    assert not (tmp_path / str(i)).exists()


@pytest.mark.commands
def test_a_system_in_three_coordinates_through_every_command(tmp_path):
  # Taylor-Green (x, y, t; u, v, p) with both hard constraints derived from its conditions
  # (cos/sin of x and y, the exact initial velocity), then many-query, UQ and design on it.
  wd = tmp_path / "tg"
  r = _run(
    "train",
    "--problem=taylor_green",
    f"--workdir={wd}",
    "--mu_grid=2",
    "--hard_ic",
    "--periodic",
    "--targets=0.05",
    "--optimizer=adam",
    "--phase2_optimizer=adam",
    "--nophase2_batched",
    *TINY,
  )  # the cheapest programs: LM on systems is tested apart
  assert r.returncode == 0, r.stderr
  model = json.load(open(wd / "model.json"))["model"]
  assert model["hard_ic"] == "ic" and model["periods"] == pytest.approx([2 * np.pi] * 2 + [0])
  solver = lrpinn_jax.load(str(wd))
  x, y = np.array([0.3, 1.2]), np.array([2.0, 0.1])
  np.testing.assert_allclose(
    np.asarray(solver(x, y, np.zeros(2), [0.05]))[:, :2],
    np.stack([-np.cos(x) * np.sin(y), np.sin(x) * np.cos(y)], -1),
    atol=1e-6,
  )
  r = _run(
    "many_query", f"--checkpoint={wd}", "--mu_grid=3", "--steps=0", f"--out={tmp_path / 'mq.json'}"
  )  # Phase 2 of many mu: test_problem.py
  assert r.returncode == 0, r.stderr
  rows = json.load(open(tmp_path / "mq.json"))["mus"]
  assert [r["mu"][0] for r in rows] == pytest.approx([0.01, 0.055, 0.1])
  assert set(rows[0]["zero_shot_by_field"]) == {"u", "v", "p", "velocity"}
  r = _run(
    "uq",
    f"--checkpoint={wd}",
    "--dist=uniform:0.02,0.08",
    "--n=3",
    "--grid=4x5x3",
    f"--out={tmp_path / 'uq'}",
  )
  assert r.returncode == 0, r.stderr
  stats = np.load(tmp_path / "uq" / "uq.npz")
  assert stats["mean"].shape == (3, 5, 4, 3) and stats["y"].shape == (5,)
  r = _run(
    "design",
    f"--checkpoint={wd}",
    "--target_mu=0.04",
    "--t=1",
    "--n_x=4",
    "--fields=u,v",
    "--steps=2",
    "--n_starts=2",
    f"--out={tmp_path / 'd.json'}",
  )
  assert r.returncode == 0, r.stderr
  d = json.load(open(tmp_path / "d.json"))
  assert d["fields"] == ["u", "v"] and 0.01 <= d["mu_hat"][0] <= 0.1


def test_many_query_bad_input_one_line_errors(tmp_path):
  from tests.conftest import assert_one_line_error, cli_cases

  official = os.path.join(ROOT, "lrpinn_jax", "official", "phase1.npz")
  kovasznay = os.path.join(ROOT, "results", "kovasznay")
  cases = [
    ([f"--checkpoint={official}", "--tol=0"], "--tol must be a number in (0, 1)"),
    (
      [f"--checkpoint={official}", "--mu_set=30,0,0", "--mu_grid=3"],
      "give --mu_set or --mu_grid, not both",
    ),
    ([f"--checkpoint={kovasznay}"], "--beta_range is for convection models"),
  ]
  runs = cli_cases(
    "experiments.many_query",
    [[*args, f"--out={tmp_path / str(i)}.json"] for i, (args, _) in enumerate(cases)],
    tmp_path,
  )
  for i, (run, (_, message)) in enumerate(zip(runs, cases)):
    assert_one_line_error(run, message)
    assert not (tmp_path / f"{i}.json").exists()
