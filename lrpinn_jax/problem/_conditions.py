"""Conditions of a Problem: small frozen objects that name the field(s) they constrain.

Each condition becomes one residual block of the loss (its ``name``): it samples its points
(numpy, deterministic from a seed) and gives the residual at ONE point for one mu. Every value is
a function ``value(z, mu)`` of the point and the parameters, both dicts of scalars by name, so an
initial or boundary value may depend on mu (an initial condition u0(x; mu) is how a parameter
defines the initial data). The vocabulary is DeepXDE's (DirichletBC, NeumannBC, PeriodicBC with
its derivative order) and PINA's (a condition on a part of the domain).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

Names = Union[str, Sequence[str]]


def _names(fields: Names) -> Tuple[str, ...]:
  return (fields,) if isinstance(fields, str) else tuple(fields)


def _as_vector(value, n: int) -> jnp.ndarray:
  """A condition value (scalar, or a sequence of one scalar per field) as an array (n,)."""
  if isinstance(value, (tuple, list)):
    value = jnp.stack([jnp.asarray(v) for v in value])
  return jnp.broadcast_to(jnp.asarray(value), (n,))


class Condition:
  """Base class of the conditions: a frozen dataclass with ``fields`` (the constrained field or
  fields; () for all) and ``name`` (its loss term), implementing ``sample`` and ``residual``."""
  fields: Names = ()
  name: str = ""

  def sample(self, problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points (n, d) of the condition."""
    raise NotImplementedError

  def residual(self, problem, u, z: jnp.ndarray, mu: jnp.ndarray) -> jnp.ndarray:
    """The misfit at ONE point z (d,) for one mu (m,): a vector, one entry per constrained
    field (and derivative). u: z (d,) -> fields (n,)."""
    raise NotImplementedError


def _face(problem, coord: str, side: str, n: int, rng: np.random.Generator) -> np.ndarray:
  """n points uniform on the face coord = lo or hi of the problem's box."""
  z = problem.uniform(n, rng)
  lo, hi = problem.box(coord)
  z[:, problem.coord_index(coord)] = lo if side == "lo" else hi
  return z


def _parse_sides(problem, on: Names) -> Tuple[Tuple[str, str], ...]:
  """("x", "y=hi") -> (("x", "lo"), ("x", "hi"), ("y", "hi")); () -> every face but time's."""
  items = _names(on) or tuple(c for c in problem.coord_names if c != problem.time)
  out = []
  for item in items:
    coord, _, side = item.partition("=")
    out += [(coord, s) for s in ((side,) if side else ("lo", "hi"))]
  return tuple(out)


@dataclasses.dataclass(frozen=True)
class Initial(Condition):
  """fields(z, t = t_lo) = value(z, mu) on the problem's initial face (it needs a time)."""
  fields: Names = ()
  value: Callable = None
  name: str = "ic"

  def sample(self, problem, n, rng):
    return _face(problem, problem.time, "lo", n, rng)

  def residual(self, problem, u, z, mu):
    return _value_misfit(self, problem, u, z, mu)


def _value_misfit(cond, problem, u, z, mu):
  """fields(z) - value(z, mu) for an Initial or Dirichlet condition."""
  idx = problem.field_indices(cond.fields)
  want = _as_vector(cond.value(problem.point_dict(z), problem.mu_dict(mu)), len(idx))
  return u(z)[idx] - want


@dataclasses.dataclass(frozen=True)
class Dirichlet(Condition):
  """fields = value(z, mu) on the faces ``on``: "x" (both x faces), "x=lo", "x=hi", several of
  them, or () for every face of every coordinate but time."""
  fields: Names = ()
  value: Callable = None
  on: Names = ()
  name: str = "bc"

  def sample(self, problem, n, rng):
    return np.concatenate([_face(problem, c, s, n, rng) for c, s in _parse_sides(problem,
                                                                                 self.on)])

  def residual(self, problem, u, z, mu):
    return _value_misfit(self, problem, u, z, mu)


@dataclasses.dataclass(frozen=True)
class Neumann(Condition):
  """Outward normal derivative of the fields = value(z, mu) on the faces ``on`` (as Dirichlet).
  The points carry their outward direction, so one block serves every face."""
  fields: Names = ()
  value: Callable = None
  on: Names = ()
  name: str = "bc_n"

  def sample(self, problem, n, rng):
    parts = []
    for c, s in _parse_sides(problem, self.on):
      normal = np.zeros((n, problem.d))
      normal[:, problem.coord_index(c)] = 1.0 if s == "hi" else -1.0
      parts.append(np.concatenate([_face(problem, c, s, n, rng), normal], 1))
    return np.concatenate(parts)

  def residual(self, problem, u, zn, mu):
    z, normal = zn[:problem.d], zn[problem.d:]
    idx = problem.field_indices(self.fields)
    slope = jax.jvp(u, (z,), (normal,))[1]
    want = _as_vector(self.value(problem.point_dict(z), problem.mu_dict(mu)), len(idx))
    return slope[idx] - want


@dataclasses.dataclass(frozen=True)
class Periodic(Condition):
  """fields(coord = lo) = fields(coord = hi), and their first ``derivative_order`` derivatives in
  ``coord`` too. ``when(mu)``: optional switch per mu (1: applies, 0: not), e.g. the u_x match
  that only diffusion needs."""
  fields: Names = ()
  coord: str = "x"
  derivative_order: int = 0
  when: Optional[Callable] = None
  name: str = "bc"

  def sample(self, problem, n, rng):
    return _face(problem, self.coord, "lo", n, rng)

  def residual(self, problem, u, z, mu):
    idx = problem.field_indices(self.fields)
    k = problem.coord_index(self.coord)
    lo, hi = problem.box(self.coord)
    z_lo, z_hi = z.at[k].set(lo), z.at[k].set(hi)
    e = jnp.zeros_like(z).at[k].set(1.0)
    f = u
    out = []
    for _ in range(self.derivative_order + 1):
      out.append(f(z_lo)[idx] - f(z_hi)[idx])
      f = (lambda g: lambda zz: jax.jvp(g, (zz,), (e,))[1])(f)
    res = jnp.concatenate(out)
    if self.when is not None:
      res = res * jnp.asarray(self.when(problem.mu_dict(mu)), res.dtype)
    return res
