"""Explicit mu sets: P2INN's CDR family set, files, and the sub-family of each mu."""

import json

import numpy as np
import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import summarize_by_family
from lrpinn_jax.pdes import mu_sets


def test_cdr_family_set_is_p2inn_s_190_mu():
  mus = mu_sets.load("cdr_family_1_5")
  assert mus.shape == (190, 3)
  counts = {k: len(v) for k, v in mu_sets.by_family(mus).items()}
  assert counts == {
    "convection": 5,
    "diffusion": 5,
    "reaction": 5,
    "convection_diffusion": 25,
    "reaction_diffusion": 25,
    "cdr": 125,
  }
  assert len({tuple(m) for m in mus}) == 190
  assert set(np.unique(mus)) == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}


def test_heldout_set_is_off_the_grid_and_on_the_trained_faces():
  mus = mu_sets.load("cdr_family_1_5_heldout")
  assert mus.shape == (90, 3)
  assert np.all((mus == 0) | ((mus >= 1) & (mus <= 5)))
  assert not np.any(np.all(np.isin(mus, np.arange(6.0)), 1))  # none on the integer grid
  assert "convection_reaction" not in mu_sets.by_family(mus)


def test_family_of_a_mu():
  assert mu_sets.family([2.0, 0.0, 3.0]) == "convection_reaction"
  assert mu_sets.family([0.0, 1.5, 3.0]) == "reaction_diffusion"
  assert mu_sets.family([1.0, 1.0, 1.0]) == "cdr"
  assert mu_sets.family([0.0, 0.0, 0.0]) == "none"


def test_files_csv_and_json(tmp_path):
  csv = tmp_path / "mu.csv"
  csv.write_text("# beta, nu, rho\n1, 0, 0\n2.5,1,0  # a comment\n")
  np.testing.assert_array_equal(mu_sets.load(str(csv)), [[1, 0, 0], [2.5, 1, 0]])
  js = tmp_path / "mu.json"
  js.write_text(json.dumps([[1, 2, 3]]))
  np.testing.assert_array_equal(mu_sets.load(str(js)), [[1, 2, 3]])
  bad = tmp_path / "bad.csv"
  bad.write_text("1, 2\n")
  with pytest.raises(UserError, match="rows of 3 numbers"):
    mu_sets.load(str(bad))
  with pytest.raises(UserError, match="neither a named set"):
    mu_sets.load(str(tmp_path / "missing.csv"))


def test_summary_by_family_groups_mean_and_worst():
  rows = [
    {"mu": mu, "zero_shot": {"rel_err": e, "abs_err": e}, "phase2": {}}
    for mu, e in (([1, 0, 0], 0.1), ([2, 0, 0], 0.3), ([1, 1, 1], 0.2))
  ]
  out = summarize_by_family(rows)
  assert list(out) == ["convection", "cdr"]
  assert out["convection"]["count"] == 2
  np.testing.assert_allclose(out["convection"]["zero_shot"]["mean_rel_err"], 0.2)
  assert out["convection"]["zero_shot"]["worst_mu"] == [2, 0, 0]
  np.testing.assert_allclose(out["cdr"]["zero_shot"]["max_rel_err"], 0.2)


def test_family_sampling_gives_each_sub_family_the_same_chance():
  import jax.numpy as jnp

  from lrpinn_jax.fit.phase1 import family_probs

  mus = mu_sets.load("cdr_family_1_5")
  p = np.asarray(family_probs(jnp.asarray(mus)))
  np.testing.assert_allclose(p[:5], 1 / 30, rtol=1e-6)  # 6 sub-families, 5 convection mu
  np.testing.assert_allclose(p[-1], 1 / (6 * 125), rtol=1e-6)
  for idx in mu_sets.by_family(mus).values():
    np.testing.assert_allclose(p[idx].sum(), 1 / 6, rtol=1e-5)
