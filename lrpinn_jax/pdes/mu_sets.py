"""Explicit sets of training or target mu, and the CDR sub-family each mu belongs to.

A set is named (``NAMED``) or read from a file: CSV (one mu per line, comma-separated, '#'
comments) or JSON (a list of lists). The named CDR family sets follow P2INN (Cho et al., ICML
2024): every sub-family of u_t + beta u_x - nu u_xx - rho u (1 - u) = 0 whose coefficients are
integers 1..5, the unused ones 0:
  convection 5, diffusion 5, reaction 5, convection-diffusion 25, reaction-diffusion 25, CDR 125
(190 mu). Its held-out companion draws non-integer mu (fixed seed): 20 in the CDR box [1, 5]^3,
20 on each trained face (convection-diffusion, reaction-diffusion) and 10 on each trained edge.
"""

from __future__ import annotations

import json
from typing import Dict, List

import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.pdes.registry import CDR_PRESETS

# The sub-families of the named CDR sets, in P2INN's table order.
FAMILY_ORDER = (
  "convection",
  "diffusion",
  "reaction",
  "convection_diffusion",
  "reaction_diffusion",
  "cdr",
)


def cdr_family(lo: int = 1, hi: int = 5) -> np.ndarray:
  """The P2INN training set: each sub-family of FAMILY_ORDER on the integer grid lo..hi: (190, 3)
  for 1..5."""
  vals = np.arange(lo, hi + 1, dtype=np.float64)
  out = []
  for name in FAMILY_ORDER:
    active = np.flatnonzero(CDR_PRESETS[name])
    grid = np.stack(np.meshgrid(*[vals] * len(active), indexing="ij"), -1).reshape(-1, len(active))
    mus = np.zeros((len(grid), 3))
    mus[:, active] = grid
    out.append(mus)
  return np.concatenate(out)


def cdr_family_heldout(lo: float = 1.0, hi: float = 5.0, seed: int = 0) -> np.ndarray:
  """Held-out mu off the integer grid (module docstring): (90, 3), rounded to 4 decimals."""
  rng = np.random.default_rng([seed, 17])
  counts = {
    "cdr": 20,
    "convection_diffusion": 20,
    "reaction_diffusion": 20,
    "convection": 10,
    "diffusion": 10,
    "reaction": 10,
  }
  out = []
  for name in FAMILY_ORDER:
    active = np.flatnonzero(CDR_PRESETS[name])
    mus = np.zeros((counts[name], 3))
    mus[:, active] = rng.uniform(lo, hi, (counts[name], len(active)))
    out.append(mus)
  return np.round(np.concatenate(out), 4)


NAMED = {"cdr_family_1_5": cdr_family, "cdr_family_1_5_heldout": cdr_family_heldout}


def load(spec: str, mu_dim: int = 3) -> np.ndarray:
  """A named set or a CSV / JSON file of mu: (n, mu_dim) float64. One-line UserError otherwise."""
  if spec in NAMED:
    return NAMED[spec]()
  try:
    with open(spec) as f:
      text = f.read()
  except OSError as e:
    raise UserError(
      f"--mu_set {spec!r} is neither a named set ({', '.join(NAMED)}) nor a "
      f"readable file ({e.strerror})"
    ) from None
  try:
    if spec.endswith(".json"):
      mus = np.asarray(json.loads(text), np.float64)
    else:
      rows = [ln.split("#")[0].strip() for ln in text.splitlines()]
      mus = np.asarray([[float(v) for v in ln.split(",")] for ln in rows if ln], np.float64)
  except (ValueError, TypeError) as e:
    raise UserError(f"{spec}: cannot read a list of mu ({e})") from None
  if mus.ndim != 2 or mus.shape[1] != mu_dim or len(mus) == 0:
    raise UserError(f"{spec}: expected rows of {mu_dim} numbers, got an array of shape {mus.shape}")
  if not np.all(np.isfinite(mus)):
    raise UserError(f"{spec}: mu must be finite")
  return mus


def family(mu) -> str:
  """The CDR preset whose nonzero coefficients are those of mu (3,): e.g. (2, 0, 3) ->
  "reaction_diffusion"; "convection_reaction" (not a preset) for (b, 0, r); "none" for 0."""
  pattern = tuple(bool(v != 0) for v in np.asarray(mu)[:3])
  for name, active in CDR_PRESETS.items():
    if tuple(active) == pattern:
      return name
  return "convection_reaction" if pattern == (True, False, True) else "none"


def by_family(mus) -> Dict[str, List[int]]:
  """{sub-family: indices into mus}, in FAMILY_ORDER (others after)."""
  groups: Dict[str, List[int]] = {}
  for i, mu in enumerate(np.asarray(mus)):
    groups.setdefault(family(mu), []).append(i)
  order = [k for k in FAMILY_ORDER if k in groups] + [k for k in groups if k not in FAMILY_ORDER]
  return {k: groups[k] for k in order}
