"""SOAP (Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using Adam") as an optax
GradientTransformation: Adam run in the eigenbasis of Shampoo's Kronecker factors.

For a matrix parameter W (m, n) with gradient G, SOAP keeps L = EMA(G G^T) (m, m) and
R = EMA(G^T G) (n, n), their eigenvector matrices Q_L, Q_R (refreshed by eigh every
``precondition_every`` steps), the first moment M in the parameter's own basis and the second
moment V in the rotated basis. One step:

  G' = Q_L^T G Q_R,  M' = Q_L^T M Q_R,  V = b2 V + (1 - b2) G'^2,
  update = Q_L [ M'_hat / (sqrt(V_hat) + eps) ] Q_R^T       (hats: Adam's bias corrections)

Vectors and scalars (biases) get plain Adam. For PINNs, second-order preconditioning of this kind
helps where the loss terms' gradients conflict (Wang et al. 2025, "Gradient alignment in
physics-informed neural networks: a second-order optimization perspective").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrpinn_jax.precision import real


class SoapState(NamedTuple):
  count: jnp.ndarray  # type: ignore[assignment]  # int32 scalar: steps taken (optax's name)
  mu: Any  # first moments, parameters' shapes
  nu: Any  # second moments (rotated basis for matrices), parameters' shapes
  kron: Any  # per matrix leaf (L, R, Q_L, Q_R); per other leaf ()


def _is_matrix(x) -> bool:
  return x.ndim == 2


def _eigvecs(a: jnp.ndarray) -> jnp.ndarray:
  """Eigenvectors of a symmetric PSD matrix (ascending eigenvalues), with a tiny ridge so that a
  zero factor gives the identity basis."""
  n = a.shape[0]
  return jnp.linalg.eigh(a + 1e-30 * jnp.eye(n, dtype=a.dtype))[1]


def scale_by_soap(
  b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, precondition_every: int = 10
) -> optax.GradientTransformation:
  """SOAP's direction (no learning rate; chain with optax.scale_by_learning_rate)."""

  def init(params):
    zeros = jax.tree.map(jnp.zeros_like, params)

    def kron0(p):
      if not _is_matrix(p):
        return ()
      m, n = p.shape
      return (
        jnp.zeros((m, m), p.dtype),
        jnp.zeros((n, n), p.dtype),
        jnp.eye(m, dtype=p.dtype),
        jnp.eye(n, dtype=p.dtype),
      )

    return SoapState(jnp.zeros((), jnp.int32), zeros, zeros, jax.tree.map(kron0, params))

  def update(updates, state, params=None):
    del params
    count = state.count + 1
    c1 = 1.0 - b1 ** count.astype(real())
    c2 = 1.0 - b2 ** count.astype(real())
    refresh = jnp.logical_or(count == 1, count % precondition_every == 0)

    def one(g, mu, nu, kron):
      mu = b1 * mu + (1.0 - b1) * g
      if not kron:
        nu = b2 * nu + (1.0 - b2) * g * g
        return (mu / c1) / (jnp.sqrt(nu / c2) + eps), mu, nu, kron
      l, r, ql, qr = kron
      l = b2 * l + (1.0 - b2) * g @ g.T
      r = b2 * r + (1.0 - b2) * g.T @ g
      # A new basis from step 1 on (the first factors), then every precondition_every steps.
      ql, qr = jax.lax.cond(refresh, lambda: (_eigvecs(l), _eigvecs(r)), lambda: (ql, qr))
      g_rot = ql.T @ g @ qr
      nu = b2 * nu + (1.0 - b2) * g_rot * g_rot
      step_rot = (ql.T @ mu @ qr / c1) / (jnp.sqrt(nu / c2) + eps)
      return ql @ step_rot @ qr.T, mu, nu, (l, r, ql, qr)

    leaves, treedef = jax.tree.flatten(updates)
    mus = treedef.flatten_up_to(state.mu)
    nus = treedef.flatten_up_to(state.nu)
    krons = treedef.flatten_up_to(state.kron)
    out = [one(*a) for a in zip(leaves, mus, nus, krons)]
    unflat = lambda i: treedef.unflatten([o[i] for o in out])
    return unflat(0), SoapState(count, unflat(1), unflat(2), unflat(3))

  return optax.GradientTransformation(init, update)


def soap(
  learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, precondition_every: int = 10
) -> optax.GradientTransformation:
  """SOAP with a learning rate or schedule (same call shape as optax.adam)."""
  return optax.chain(
    scale_by_soap(b1, b2, eps, precondition_every), optax.scale_by_learning_rate(learning_rate)
  )
