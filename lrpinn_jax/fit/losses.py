"""PINN loss terms (for one mu) and the orthogonality penalty on the low-rank bases."""

from __future__ import annotations

from typing import Any, Callable, Dict

import jax
import jax.numpy as jnp

DEFAULT_MODE = "jvp"  # derivatives: forward mode, the only one (lrpinn_jax.problem.Fields)


def block_vectors(pde, u_fn: Callable, mu, points, mode: str = "jvp", need_xx: bool = True) -> dict:
  """{block name: residual vector} for ONE mu, each block vmapped over its points."""
  return {
    name: jax.vmap(lambda *c, fn=fn: fn(u_fn, mu, *c))(*cols)
    for name, fn, cols in pde.blocks(points, mode, need_xx)
  }


ORTHO_FORMS = ("paper", "official")
DEFAULT_ORTHO = "paper"
_SQRT_FLOOR = 1e-20


def residuals(
  u_fn: Callable, pde, mu, batch, mode: str = DEFAULT_MODE, need_xx: bool = True
) -> Dict[str, jnp.ndarray]:
  """The problem's residual vectors for ONE mu, e.g. for CDR: PDE residual at collocation points
  (n_f,), initial misfit (n_0,), periodic-boundary misfit (n_b,); a system: (n, equations)."""
  return block_vectors(pde, u_fn, mu, batch, mode, need_xx)


def pinn_losses(
  u_fn: Callable,
  pde,
  mu,
  batch,
  mode: str = DEFAULT_MODE,
  need_xx: bool = True,
  causal_eps: float = 0.0,
  causal_bins: int = 16,
) -> Dict[str, jnp.ndarray]:
  """Mean squares of each residual block (CDR: {"f", "ic", "bc"}) as scalars for ONE mu.

  causal_eps > 0: causal weighting of the PDE residual (Wang, Sankaran & Perdikaris 2022): the
  collocation points are binned by t into ``causal_bins`` slabs with mean squares L_1..L_M, and
  f = mean_m w_m L_m, w_m = exp(-eps sum_{k<m} L_k) (no gradient through w): later times count
  only once earlier times are solved.
  """
  res = residuals(u_fn, pde, mu, batch, mode, need_xx)
  out = {k: jnp.mean(r**2) for k, r in res.items()}
  if causal_eps > 0:
    k = pde.coord_names.index(pde.time)
    t_lo, t_hi = pde.domain[k]
    t_f = batch["f"][:, k]
    sq = res["f"] ** 2
    sq = sq.reshape(sq.shape[0], -1).mean(1)  # one value per point (a system: mean over equations)
    bins = jnp.clip(
      ((t_f - t_lo) / (t_hi - t_lo) * causal_bins).astype(jnp.int32), 0, causal_bins - 1
    )
    sums = jax.ops.segment_sum(sq, bins, causal_bins)
    counts = jax.ops.segment_sum(jnp.ones_like(t_f), bins, causal_bins)
    per_bin = sums / jnp.maximum(counts, 1.0)
    w = jax.lax.stop_gradient(jnp.exp(-causal_eps * (jnp.cumsum(per_bin) - per_bin)))
    out["f"] = jnp.mean(w * per_bin)
  return out


def orthogonality(
  net_params: dict, n_lowrank: int, form: str = DEFAULT_ORTHO, w_u: float = 1.0, w_v: float = 1.0
) -> jnp.ndarray:
  """Sum over layers of the penalty on U_l (d, r) and V_l (d, r).

  form="paper":    w_u ||U^T U - I||_F^2 + w_v ||V^T V - I||_F^2          (paper Eq. 2)
  form="official": (w_u ||U^T U - I||_F + w_v ||V^T V - I||_F) / r^2      (the authors' code)
  The unsquared norm gets a tiny floor inside the square root: its gradient is undefined at an
  exactly orthogonal basis.
  """
  total: Any = 0.0  # a scalar array after the first layer
  for l in range(n_lowrank):
    p = net_params[f"lowrank_{l}"]
    terms = []
    for b in (p["U"], p["V"]):
      g = b.T @ b - jnp.eye(b.shape[1], dtype=b.dtype)
      terms.append(jnp.sum(g**2))
    r = p["U"].shape[1]
    if form == "paper":
      total = total + w_u * terms[0] + w_v * terms[1]
    elif form == "official":
      norm_u, norm_v = (jnp.sqrt(x + _SQRT_FLOOR) for x in terms)
      total = total + (w_u * norm_u + w_v * norm_v) / r**2
    else:
      raise ValueError(f"orthogonality form must be one of {ORTHO_FORMS}, got {form!r}")
  return total
