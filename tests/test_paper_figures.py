"""The commands behind the paper's remaining figures and tables, on the committed models with few
steps: experiments.ranks (Fig. 4, Table 3) and experiments.snapshots (Fig. 7)."""

import json

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, cli_cases


def test_ranks_command_counts_what_the_model_holds(tmp_path):
  """On the committed convection model: the ranks at tolerance 0 are the nonzero entries of s
  (the Solver's own count), a positive tolerance never raises a rank, Table 3's fixed-rank
  counts are the first and last layers (2 x 50 + 50 and 50 + 1) plus 3 r, the PINN's 10,401."""
  out = tmp_path / "ranks"
  runs = cli_cases(
    "experiments.ranks",
    [
      ["--workdir=results/convection_30_40", "--beta_range=30,40", "--beta_step=5",
       "--rank_tols=0,0.01", "--n_test=64", f"--out={out}"],
      ["--workdir=results/convection_30_40", "--rank_tols=2", f"--out={tmp_path / 'bad'}"],
    ],
    tmp_path,
  )  # fmt: skip
  assert runs[0]["code"] == 0, runs[0]["stderr"]
  result = json.load(open(out / "ranks.json"))
  assert result["betas"] == [30.0, 35.0, 40.0]
  import lrpinn_jax

  solver = lrpinn_jax.load("results/convection_30_40")
  full, cut = result["by_rank_tol"]["0"], result["by_rank_tol"]["0.01"]
  for i, beta in enumerate(result["betas"]):
    assert full["ranks"][i] == list(solver.ranks(np.array([beta, 0.0, 0.0])))
    assert all(c <= f for c, f in zip(cut["ranks"][i], full["ranks"][i]))
    assert full["trainable"][i] == 201 + sum(full["ranks"][i])
  assert result["table3"]["rank_10"] == 231 and result["table3"]["rank_50"] == 351
  assert result["table3"]["pinn"] == 10401 == result["paper_table3"]["pinn"]
  assert (out / "fig4_ranks.png").stat().st_size > 10_000
  assert_one_line_error(runs[1], "--rank_tols must lie in [0, 1)")
  assert not (tmp_path / "bad").exists()


@pytest.mark.commands
def test_snapshots_command_on_the_helmholtz_model(tmp_path):
  """One geodesic-LM step from the committed Helmholtz model and 3 PINN steps: the JSON's errors
  are those of the figure's grid, and the zero-shot error is the committed model's (~0.02)."""
  out = tmp_path / "snap"
  runs = cli_cases(
    "experiments.snapshots",
    [["--checkpoint=results/helmholtz_2_3", "--mu=2.5,2.5", "--phase2_steps=1",
      "--pinn_steps=3", "--n_f=64", "--grid=21", f"--out={out}"]],
    tmp_path,
  )  # fmt: skip
  assert runs[0]["code"] == 0, runs[0]["stderr"]
  result = json.load(open(out / "snapshots_mu2.5_2.5.json"))
  assert result["hyper_lr"]["steps"] == 1 and result["pinn"]["steps"] == 3
  assert result["pinn"]["trainable_params"] == 10401
  assert result["zero_shot"]["rel_err"] < 0.05 and result["pinn"]["rel_err"] > 0.5
  assert (out / "fig7_snapshots_mu2.5_2.5.png").stat().st_size > 10_000


def test_snapshots_command_refuses_a_mu_of_the_wrong_length(tmp_path):
  (run,) = cli_cases(
    "experiments.snapshots",
    [["--checkpoint=results/helmholtz_2_3", "--mu=2.5", f"--out={tmp_path / 'bad'}"]],
    tmp_path,
  )
  assert_one_line_error(run, "--mu needs 2 numbers")
  assert not (tmp_path / "bad").exists()
