"""A trained model as a callable, differentiable many-query solver: ``solver(x, t, mu) -> u``."""

from __future__ import annotations

from typing import Tuple

import flax.struct
import jax
import jax.numpy as jnp

from lrpinn_jax.nn.model import ModelConfig, hyper_s, point_fn
from lrpinn_jax.precision import real


@flax.struct.dataclass
class Solver:
  """A pytree: pass it into jitted functions, vmap over mu, differentiate w.r.t. mu or params.

  params: {"net", "hyper"} for a Phase-1 model (s comes from the hypernetwork), or {"net", "s"} for
  a Phase-2 model fine-tuned for one mu (s is fixed; mu is then only used by the caller's PDE).
  config: the architecture (static).
  meta: static extras, e.g. (("pde", "convection"), ("mu", (40.0, 0.0, 0.0))).

  u(x, t; mu) = N(x, t; s(mu)) for a Phase-1 model: the hypernetwork gives s_l(mu), the
  network with low-rank layers U_l diag(s_l) V_l^T evaluates u at every point (ModelConfig).

  >>> import jax, numpy as np
  >>> from lrpinn_jax.io import interop
  >>> solver = interop.load_official(interop.official_path("phase1.npz"))  # or lrpinn_jax.load(dir)
  >>> x, t = np.linspace(0, 2 * np.pi, 5), np.full(5, 0.5)
  >>> solver(x, t, np.array([35.0, 0, 0])).shape
  (5,)
  >>> jax.vmap(lambda m: solver(x, t, m))(np.array([[30.0, 0, 0], [40.0, 0, 0]])).shape
  (2, 5)
  >>> du_dbeta = jax.grad(lambda b: solver(x, t, jax.numpy.stack([b, 0.0, 0.0])).mean())(35.0)
  >>> solver.ranks(np.array([35.0, 0, 0]))  # nonzero entries of each s_l(mu): the official ranks
  (29, 30, 34)
  """

  params: dict
  config: ModelConfig = flax.struct.field(pytree_node=False)
  meta: Tuple = flax.struct.field(pytree_node=False, default=())

  # Identity semantics, so that ``jax.jit(solver)`` can use the solver as its cache key.
  __hash__ = object.__hash__
  __eq__ = object.__eq__

  def s(self, mu: jnp.ndarray) -> Tuple[jnp.ndarray, ...]:
    """The diagonals s_l for one mu (config.mu_dim,)."""
    if "hyper" in self.params:
      return hyper_s(self.config, self.params["hyper"], jnp.asarray(mu, real()))
    return tuple(self.params["s"])

  def __call__(self, *coords_and_mu) -> jnp.ndarray:
    """u at points for one mu: ``solver(x, t, mu)`` (or ``solver(x, y, t, mu)``: one array per
    coordinate, in the problem's order, all of one shape; t is y for Helmholtz) with mu
    (mu_dim,). Returns that shape for one field, and that shape plus a trailing axis of the fields
    for several."""
    *coords, mu = coords_and_mu
    if len(coords) != self.config.n_in:
      raise ValueError(
        f"this model takes {self.config.n_in} coordinate arrays and mu, got {len(coords)} arrays"
      )
    coords = [jnp.asarray(c, real()) for c in coords]
    if any(c.shape != coords[0].shape for c in coords):
      raise ValueError(
        f"the coordinate arrays must have one shape, got {[c.shape for c in coords]}"
      )
    return _evaluate(self, tuple(coords), jnp.asarray(mu, real()))

  def ranks(self, mu) -> Tuple[int, ...]:
    """Per-layer ranks (number of nonzero entries of s_l) at one mu; concrete ints."""
    return tuple(int(jnp.sum(v != 0)) for v in self.s(jnp.asarray(mu, real())))

  @property
  def info(self) -> dict:
    return dict(self.meta)


@jax.jit
def _evaluate(solver: Solver, coords: Tuple[jnp.ndarray, ...], mu: jnp.ndarray) -> jnp.ndarray:
  """Solver.__call__'s computation, compiled once per model architecture and input shapes: an
  eager call then costs one dispatch instead of tracing the Flax modules (about 0.1 s) each time;
  inside the caller's jit, vmap or grad it is inlined like any jitted function."""
  pde = None
  if solver.config.hard_ic:  # the initial condition comes from the model's problem (trace time)
    from lrpinn_jax.pdes.registry import pde_of

    pde = pde_of(solver)
  u = point_fn(solver.config, solver.params["net"], solver.s(mu), pde=pde, mu=mu)
  out = jax.vmap(u)(*(c.ravel() for c in coords))
  return out.reshape(coords[0].shape + out.shape[1:])
