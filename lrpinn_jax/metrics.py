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
