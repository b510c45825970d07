"""Conformance with the authors' official checkpoints, and bad npz files."""

import numpy as np
import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.io import interop
from lrpinn_jax.metrics import errors
from tests.conftest import ref_path

# ranks listed in the reference README (Phase 1, hypernetwork input [beta, 0, 0])
EXPECTED_RANKS = {
  30: (27, 30, 34),
  35: (29, 30, 34),
  40: (29, 30, 34),
  25: (25, 30, 34),
  45: (26, 30, 35),
}


def test_phase1_reproduces_official_predictions(official_phase1):
  e = np.load(ref_path("expected_phase1.npz"))
  for b in (30, 35, 40):
    u = official_phase1(e[f"x_beta{b}"], e[f"t_beta{b}"], np.array([b, 0.0, 0.0]))
    np.testing.assert_allclose(np.asarray(u), e[f"u_pred_beta{b}"], atol=1e-4, rtol=0)


def test_phase1_ranks(official_phase1):
  for b, r in EXPECTED_RANKS.items():
    assert official_phase1.ranks([b, 0.0, 0.0]) == r


def test_phase1_zero_shot_errors_match_reference_readme(official_phase1):
  e = np.load(ref_path("expected_phase1.npz"))
  u = official_phase1(e["x_beta40"], e["t_beta40"], np.array([40.0, 0, 0]))
  m = errors(u, e["u_true_beta40"])
  np.testing.assert_allclose([m["abs_err"], m["rel_err"]], [0.29959, 0.30322], atol=5e-5)


def test_phase2_checkpoint_reproduces_official_errors():
  solver = interop.load_official(ref_path("phase2_beta40.npz"))
  e = np.load(ref_path("expected_phase2_beta40.npz"))
  u = solver(e["x_beta40"], e["t_beta40"], np.array([40.0, 0, 0]))
  np.testing.assert_allclose(np.asarray(u), e["u_pred_beta40"], atol=1e-4, rtol=0)
  m = errors(u, e["u_true_beta40"])
  np.testing.assert_allclose(
    [m["abs_err"], m["rel_err"], m["max_err"], m["explained_variance"]],
    [0.06564849, 0.07221682, 0.26720, 0.98482],
    atol=5e-5,
  )
  assert solver.ranks([40.0, 0, 0]) == (29, 30, 34)


def _write_modified(tmp_path, drop=None, reshape=None):
  with np.load(ref_path("phase1.npz")) as f:
    arrays = {k: f[k] for k in f.files}
  if drop:
    del arrays[drop]
  if reshape:
    arrays[reshape] = arrays[reshape][:, :10]
  path = tmp_path / "bad.npz"
  np.savez(path, **arrays)
  return path


def test_missing_key(tmp_path):
  with pytest.raises(UserError, match="missing key 'meta_alpha_1.weight'"):
    interop.load_official(_write_modified(tmp_path, drop="meta_alpha_1.weight"))


def test_wrong_shape(tmp_path):
  with pytest.raises(UserError, match="'col_basis_2' has shape"):
    interop.load_official(_write_modified(tmp_path, reshape="col_basis_2"))


def test_missing_and_corrupted_file(tmp_path):
  with pytest.raises(UserError, match="not found"):
    interop.load_official(tmp_path / "nope.npz")
  bad = tmp_path / "corrupt.npz"
  bad.write_bytes(b"PK\x03\x04 this is not a zip")
  with pytest.raises(UserError, match="cannot read"):
    interop.load_official(bad)
