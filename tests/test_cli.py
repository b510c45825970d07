"""`python -m experiments.convection` end to end on a tiny budget, and every bad input."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import lrpinn_jax
from experiments import _cli
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import ExperimentConfig
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
  "--beta_range=1,3",
  "--targets=2,4",
]


def _run(*args):
  return subprocess.run(
    [sys.executable, "-m", "experiments.convection", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  """One run of the command with TINY, shared by the tests that need a trained workdir (each
  copies it before changing anything): (workdir, the finished process)."""
  wd = tmp_path_factory.mktemp("tiny") / "run"
  r = _run(f"--workdir={wd}", *TINY)
  assert r.returncode == 0, r.stderr
  return wd, r


@pytest.mark.commands
def test_end_to_end(tiny_run):
  wd, r = tiny_run
  assert "ETA" in r.stdout and "zero-shot" in r.stdout
  res = json.load(open(os.path.join(wd, "results.json")))
  assert res["config"]["beta_range"] == "1,3" and res["config"]["phase1_steps"] == 4
  assert res["phase1"]["steps"] == 4 and res["phase1"]["restored"] is False
  # the best recipe, with the explicit flags on top; its mu batch of 6 means all 3 betas here
  assert (
    res["config"]["recipe"],
    res["config"]["optimizer"],
    res["config"]["n_f"],
    res["config"]["mu_batch"],
  ) == ("best", "soap", 32, 0)
  assert res["phase1"]["train_mu"] == [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.0]]
  assert [e["mu"] for e in res["results"]] == [[2.0, 0.0, 0.0], [4.0, 0.0, 0.0]]
  for e in res["results"]:
    assert set(e["zero_shot"]) == {"abs_err", "rel_err", "max_err", "explained_variance", "ranks"}
    assert set(e["phase2"]) == {"adaptive", "full"}
    for mode, p2 in e["phase2"].items():
      assert p2["steps"] == 3 and p2["seconds"] > 0 and 0 <= p2["rel_err"] < 10
      # start 2x50+50, end 50+1
      assert p2["trainable_params"] == (sum(p2["ranks"]) if mode == "adaptive" else 150) + 201
  hist = [json.loads(l) for l in open(os.path.join(wd, "phase1_history.jsonl"))]
  assert [h["step"] for h in hist] == [2, 4]
  for h in hist:  # test errors per training beta 1, 2, 3, their mean and max
    assert len(h["test_rel_err_per_mu"]) == 3
    assert h["test_rel_err"] == pytest.approx(sum(h["test_rel_err_per_mu"]) / 3)
    assert h["test_rel_err_max"] == max(h["test_rel_err_per_mu"])
  solver = lrpinn_jax.load(str(wd))
  assert solver([0.5], [0.5], [2.0, 0.0, 0.0]).shape == (1,)


@pytest.mark.commands
def test_resume_to_a_longer_budget_continues(tiny_run, tmp_path):
  """The command resumed with a larger --phase1_steps continues from the tiny run's step 4."""
  wd = str(shutil.copytree(tiny_run[0], tmp_path / "run"))
  r = _run(f"--workdir={wd}", *TINY[1:], "--phase1_steps=6", "--resume", "--rank_mode=full")
  assert r.returncode == 0, r.stderr
  assert "resumed from step 4" in r.stdout
  res = json.load(open(os.path.join(wd, "results.json")))
  assert res["phase1"]["steps"] == 6 and set(res["results"][0]["phase2"]) == {"full"}


BAD_INPUTS = [
  (["--beta_range=40,30"], "--beta_range must be 'lo,hi' with lo <= hi"),
  (["--phase1_steps=-5"], "phase1_steps"),
  (["--seed=-3"], "--seed=-3: -3 is not a non-negative integer"),
  (["--mu_batch=50"], "--mu_batch must be between 0 (all) and the number of training mu (3)"),
  (["--recipe=fast"], "--recipe=fast: value should be one of <best|paper>"),
  (["--resume"], "no checkpoint"),
]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory):
  """Every BAD_INPUTS line through the command's entry point, in one subprocess."""
  root = tmp_path_factory.mktemp("bad_input")
  cases = [[f"--workdir={root / str(i)}", *TINY, *args] for i, (args, _) in enumerate(BAD_INPUTS)]
  return root, cli_cases("experiments.convection", cases, root)


@pytest.mark.parametrize("i", range(len(BAD_INPUTS)), ids=[m for _, m in BAD_INPUTS])
def test_bad_input_one_line_error(bad_input_runs, i):
  root, runs = bad_input_runs
  assert_one_line_error(runs[i], BAD_INPUTS[i][1])
  assert not (root / str(i) / "results.json").exists()


@pytest.mark.parametrize(
  "call,message",
  [
    (lambda: _cli.parse_range("beta_range", "abc"), "--beta_range must be comma-separated numbers"),
    (lambda: _cli.parse_range("beta_range", "1,inf"), "finite numbers"),
    (lambda: _cli.parse_floats("targets", "30,x"), "--targets must be comma-separated numbers"),
    (lambda: _cli.positive("beta_step", 0.0), "--beta_step must be a positive finite number"),
    (
      lambda: ExperimentConfig(
        workdir="unused", train_mu=((30.0, 0.0, 0.0),), targets=(), lr=-1.0
      ).validate(),
      "--lr must be a positive finite number",
    ),
    (
      lambda: ExperimentConfig(
        workdir="unused", train_mu=((30.0, 0.0, 0.0),), targets=(), t_scale=0.0
      ).validate(),
      "--t_scale must be a positive finite",
    ),
    (
      lambda: ExperimentConfig(
        workdir="unused", train_mu=((30.0, 0.0, 0.0),), targets=(), optimizer="sgd"
      ).validate(),
      "--optimizer must be one of",
    ),
  ],
)
def test_bad_values_rejected_in_process(call, message):
  """The checks behind the one-line errors, without a subprocess each."""
  with pytest.raises(UserError, match=re.escape(message)):
    call()


@pytest.mark.commands
def test_corrupted_checkpoint_on_resume(tiny_run, tmp_path):
  """A resume from a copy of the tiny run whose results.json is gone and checkpoint files are
  junk: a one-line error, nothing written."""
  corrupt = shutil.copytree(tiny_run[0], tmp_path / "corrupt")
  os.remove(corrupt / "results.json")
  for folder, _, files in os.walk(corrupt / "checkpoints"):
    for f in files:
      open(os.path.join(folder, f), "wb").write(b"junk")
  (run,) = cli_cases(
    "experiments.convection", [[f"--workdir={corrupt}", *TINY, "--phase1_steps=8", "--resume"]],
    tmp_path,
  )  # fmt: skip
  assert_one_line_error(run, "cannot restore checkpoint")
  assert not (corrupt / "results.json").exists()


def test_finetune_official_npz_and_load(finetune_runs):
  root, runs = finetune_runs
  assert runs[0]["code"] == 0, runs[0]["stderr"]
  wd = root / "ft"
  out = json.load(open(wd / "finetune.json"))
  assert out["mu"] == [40.0, 0.0, 0.0] and out["optimizer"] == "lm"
  assert [p["step"] for p in out["trajectory"]] == [0, 1, 2, 3, 4, 5]
  assert out["final"]["ranks"] == [29, 30, 34] and out["final"]["trainable_params"] == 294
  assert out["final"]["rel_err"] < out["trajectory"][0]["rel_err"]
  rms = out["final"]["residual_rms"]
  assert set(rms) == {"train", "fresh"} and all(0 < v < 10 for v in rms.values())
  solver = lrpinn_jax.load(str(wd))
  assert solver.ranks([40.0, 0, 0]) == (29, 30, 34)
  assert solver.info["kind"] == "phase2" and solver.info["mu"] == (40.0, 0.0, 0.0)


FINETUNE_BAD_INPUTS = [
  (["--checkpoint=/nonexistent/phase1.npz"], "checkpoint not found"),
  (["--checkpoint=/nonexistent_dir"], "not an lrpinn_jax workdir"),
  (["--mu=40,0"], "--mu must be 3 finite numbers beta,nu,rho"),
  (["--max_seconds=-1"], "--max_seconds must be a positive finite number"),
]


@pytest.fixture(scope="module")
def finetune_runs(tmp_path_factory):
  """In one subprocess: 5 LM steps from the official checkpoint at beta = 40 into <root>/ft,
  then every FINETUNE_BAD_INPUTS line (runs[1 + i])."""
  from tests.conftest import ref_path

  root = tmp_path_factory.mktemp("finetune")
  ok = [f"--checkpoint={ref_path('phase1.npz')}", "--mu=40,0,0", "--optimizer=lm", "--steps=5",
        f"--workdir={root / 'ft'}", "--n_f=200", "--n_test=200"]  # fmt: skip
  cases = [
    [f"--checkpoint={ref_path('phase1.npz')}", f"--workdir={root / str(i)}", *args]
    for i, (args, _) in enumerate(FINETUNE_BAD_INPUTS)
  ]
  return root, cli_cases("experiments.finetune", [ok, *cases], root)


@pytest.mark.parametrize(
  "i", range(len(FINETUNE_BAD_INPUTS)), ids=[m for _, m in FINETUNE_BAD_INPUTS]
)
def test_finetune_bad_input(finetune_runs, i):
  root, runs = finetune_runs
  assert_one_line_error(runs[1 + i], FINETUNE_BAD_INPUTS[i][1])
  assert not (root / str(i) / "finetune.json").exists()


@pytest.mark.commands
def test_plots_command_on_tiny_workdir(tiny_run, tmp_path):
  pytest.importorskip("matplotlib")
  wd = tiny_run[0]
  mq = tmp_path / "mq.json"
  mq.write_text(
    json.dumps(
      {
        "seconds": 1.0,
        "phase2_steps": 2,
        "betas": [
          {
            "beta": b,
            "zero_shot_rel_err": 0.3,
            "phase2_rel_err": 0.01,
            "ranks": [3, 4],
            "trainable_params": 208,
          }
          for b in (20.0, 35.0, 50.0)
        ],
      }
    )
  )
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.plots",
      f"--workdir={wd}",
      f"--many_query={mq}",
      f"--out={tmp_path / 'figs'}",
      "--beta=2",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr
  for name in (
    "fig2_solution_beta2.png",
    "fig3_phase1_curves.png",
    "fig4_ranks.png",
    "fig5_many_query.png",
  ):
    data = (tmp_path / "figs" / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_help_lists_own_flags_first_and_the_recipes():
  r = _run("--help")
  assert r.returncode == 0, r.stderr
  out = r.stdout
  assert "Recipes" in out and "soap" in out and "paper" in out
  assert out.index("  --beta_range:") < out.index("Shared flags:") < out.index("  --recipe:")


@pytest.mark.commands
def test_sigterm_saves_a_checkpoint_and_resume_finishes(tmp_path):
  """A scheduler's SIGTERM during Phase 1: checkpoint at the step reached, one line, exit 75
  within 10 s, nothing else written; the same command with --resume then finishes the run with
  the results.json numbers of an uninterrupted run."""
  import signal

  wd = tmp_path / "run"
  # 300 steps: still running when the signal comes after step 20, and the run stays short
  args = [
    f"--workdir={wd}",
    *TINY[1:],
    "--phase1_steps=300",
    "--log_every=20",
    "--ckpt_every=500",
    "--phase2_steps=0",
    "--rank_mode=adaptive",
  ]
  proc = subprocess.Popen(
    [sys.executable, "-m", "experiments.convection", *args],
    cwd=ROOT,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    env={**os.environ, "PYTHONUNBUFFERED": "1"},
  )
  for line in proc.stdout:
    if line.startswith("[phase1] step 20/"):
      break
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=10)
  assert proc.returncode == 75, err
  (line,) = err.strip().splitlines()
  m = re.search(r"SIGTERM at Phase-1 step (\d+)/300: checkpoint saved", line)
  assert m, line
  assert m.group(1) in os.listdir(wd / "checkpoints") and not (wd / "results.json").exists()
  r = _run(*args, "--resume")
  assert r.returncode == 0, r.stderr
  assert f"resumed from step {m.group(1)}" in r.stdout
  resumed = json.load(open(wd / "results.json"))
  assert resumed["phase1"]["steps"] == 300
  whole = tmp_path / "whole"  # the same run without the interruption: the same numbers
  r = _run(*[a.replace(str(wd), str(whole)) for a in args])
  assert r.returncode == 0, r.stderr

  def numbers(res):  # every result but the wall-clock seconds
    return json.loads(re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', json.dumps(res["results"])))

  assert numbers(json.load(open(whole / "results.json"))) == numbers(resumed)
