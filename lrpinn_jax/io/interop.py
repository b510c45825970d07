"""Load the authors' official PyTorch checkpoints (converted to npz) as a ``Solver``.

The official network multiplies a ROW vector: h_{k+1} = tanh(h_k C_k diag(alpha_k) R_k), no bias.
In column form that is tanh(R_k^T diag(alpha_k) C_k^T h_k), i.e. our LowRankDense with
U_k = R_k^T, V_k = C_k, s_k = alpha_k and no bias; torch Linear weights (out, in) become flax
kernels (in, out). The math is unchanged.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from lrpinn_jax import precision
from lrpinn_jax.errors import UserError
from lrpinn_jax.nn.model import ModelConfig
from lrpinn_jax.query.solver import Solver

N_LAYERS = 3
# The authors' convection checkpoints (beta in [30, 40]) and reference outputs, shipped with the
# package: phase1.npz, phase2_beta40.npz, expected_phase1.npz, expected_phase2_beta40.npz.
OFFICIAL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "official")


def official_path(name: str = "phase1.npz") -> str:
  """Path of a file shipped in lrpinn_jax/official (see its README.md for origin and license)."""
  return os.path.join(OFFICIAL_DIR, name)


def _read_npz(path) -> dict:
  try:
    with np.load(path) as f:
      return {k: np.asarray(f[k], np.float32) for k in f.files}
  except FileNotFoundError:
    raise UserError(f"checkpoint not found: {path}") from None
  except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
    raise UserError(f"cannot read {path} as an npz checkpoint ({e})") from None


def _take(arrays: dict, key: str, shape, path) -> np.ndarray:
  if key not in arrays:
    raise UserError(f"{path}: missing key {key!r}")
  a = arrays[key]
  if tuple(a.shape) != tuple(shape):
    raise UserError(f"{path}: {key!r} has shape {tuple(a.shape)}, expected {tuple(shape)}")
  return a


def _dense(arrays, name, n_in, n_out, path) -> dict:
  w = _take(arrays, f"{name}.weight", (n_out, n_in), path)
  return {"kernel": w.T.copy(), "bias": _take(arrays, f"{name}.bias", (n_out,), path)}


def load_official(npz_path, dtype=None) -> Solver:
  """Solver from the official Phase-1 npz (hypernetwork + bases) or Phase-2 npz (alpha_k, truncated
  bases), parameters as ``dtype`` (default precision.real(); float64 needs x64 on). Raises
  UserError on a missing file, missing keys or wrong shapes."""
  a = _read_npz(npz_path)
  if "start_layer.weight" not in a:
    raise UserError(f"{npz_path}: missing key 'start_layer.weight'")
  width = a["start_layer.weight"].shape[0]
  net = {
    "start": _dense(a, "start_layer", 2, width, npz_path),
    "end": _dense(a, "end_layer", width, 1, npz_path),
  }
  phase2 = "alpha_0" in a
  s = []
  for k in range(N_LAYERS):
    r = a[f"alpha_{k}"].shape[0] if phase2 and f"alpha_{k}" in a else width
    col = _take(a, f"col_basis_{k}", (width, r), npz_path)
    row = _take(a, f"row_basis_{k}", (r, width), npz_path)
    net[f"lowrank_{k}"] = {"U": row.T.copy(), "V": col}
    if phase2:
      s.append(_take(a, f"alpha_{k}", (r,), npz_path))
  cfg = ModelConfig(
    width=width,
    n_lowrank=N_LAYERS,
    rank=width,
    hyper_width=width,
    hyper_depth=3,
    lowrank_bias=False,
  )
  meta = (("pde", "convection"), ("source", str(npz_path)))
  if phase2:
    return Solver(precision.cast({"net": net, "s": tuple(s)}, dtype), cfg, meta)
  hyper = {
    "meta_0": _dense(a, "meta_layer_1", 3, width, npz_path),
    "meta_1": _dense(a, "meta_layer_2", width, width, npz_path),
    "meta_2": _dense(a, "meta_layer_3", width, width, npz_path),
  }
  for k in range(N_LAYERS):
    hyper[f"head_{k}"] = _dense(a, f"meta_alpha_{k}", width, width, npz_path)
  return Solver(precision.cast({"net": net, "hyper": hyper}, dtype), cfg, meta)
