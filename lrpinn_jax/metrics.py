"""Error metrics on a test set (numpy, float64)."""

from __future__ import annotations

import numpy as np


def errors(u_pred, u_true) -> dict:
  """abs_err = mean |e|, rel_err = ||e||_2 / ||u||_2, max_err = max |e|,
  explained_variance = 1 - Var(e) / Var(u) (sklearn's definition), e = u_pred - u_true."""
  u_pred = np.asarray(u_pred, np.float64).ravel()
  u_true = np.asarray(u_true, np.float64).ravel()
  e = u_pred - u_true
  var = np.var(u_true)
  return {
    "abs_err": float(np.mean(np.abs(e))),
    "rel_err": float(np.linalg.norm(e) / np.linalg.norm(u_true)),
    "max_err": float(np.max(np.abs(e))),
    "explained_variance": float(1.0 - np.var(e) / var) if var > 0 else float("nan"),
  }


def problem_errors(pde, u_pred, u_true) -> dict:
  """``errors`` for a problem's prediction (n,) or (n, n_fields) against its reference.

  One field: ``errors`` itself. Several: the same keys over all fields together (the fields the
  problem names in ``mean_free`` with their mean over the points removed first, in both), plus
  "fields": {name: errors of that field} and, for each of the problem's ``error_groups``
  (e.g. "velocity": ("u", "v")), {group: errors over its fields together}.
  """
  u_pred = np.asarray(u_pred, np.float64)
  u_true = np.asarray(u_true, np.float64)
  fields = tuple(getattr(pde, "fields", ("u",)))
  if len(fields) == 1:
    return errors(u_pred, u_true)
  free = [fields.index(f) for f in getattr(pde, "mean_free", ())]
  if free:
    u_pred, u_true = u_pred.copy(), u_true.copy()
    u_pred[..., free] -= u_pred[..., free].mean(axis=-2, keepdims=True)
    u_true[..., free] -= u_true[..., free].mean(axis=-2, keepdims=True)
  out = errors(u_pred, u_true)
  out["fields"] = {f: errors(u_pred[..., i], u_true[..., i]) for i, f in enumerate(fields)}
  for name, group in getattr(pde, "error_groups", {}).items():
    idx = [fields.index(f) for f in group]
    out[name] = errors(u_pred[..., idx], u_true[..., idx])
  return out
