"""Conditions of a Problem: small frozen objects that name the field(s) they constrain.

Each condition becomes one residual block of the loss (its ``name``): it samples its points
(numpy, deterministic from a seed) and gives the residual at ONE point for one mu. Every value is
a function ``value(z, mu)`` of the point and the parameters, both dicts of scalars by name, so an
initial or boundary value may depend on mu (an initial condition u0(x; mu) is how a parameter
defines the initial data). The vocabulary is DeepXDE's (DirichletBC, NeumannBC, PeriodicBC with
its derivative order, PointSetBC) and PINA's (a condition on a part of the domain).

Where the points go: uniform on the condition's faces by default; ``points="grid"``: equispaced
on each face (a coordinate with a Periodic condition leaves out its hi end, which is its lo end);
``points=fn`` places them yourself, fn(n, rng) -> (n, d) (e.g. a curved boundary inside the box).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError

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
  points: Any = None  # optional placement: "grid" or fn(n, rng) -> (n, d) (module docstring)

  def sample(self, problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points (n, d) of the condition."""
    raise NotImplementedError

  def residual(self, problem, u, z: jnp.ndarray, mu: jnp.ndarray) -> jnp.ndarray:
    """The misfit at ONE point z (d,) for one mu (m,): a vector, one entry per constrained
    field (and derivative). u: z (d,) -> fields (n,)."""
    raise NotImplementedError


def _placed(cond, problem, n: int, rng: np.random.Generator):
  """The condition's own points (n, d) when it has ``points=fn``, checked; else None."""
  if cond.points is None or isinstance(cond.points, str):
    return None
  z = np.asarray(cond.points(n, rng), np.float64)
  if z.ndim != 2 or z.shape[1] != problem.d:
    raise UserError(
      f"condition {cond.name!r}: points(n, rng) returned shape {z.shape}; expected (n, {problem.d})"
    )
  return z


def _face(
  problem, coord: str, side: str, n: int, rng: np.random.Generator, grid: bool = False
) -> np.ndarray:
  """n points on the face coord = lo or hi of the problem's box: uniform, or with grid=True
  equispaced (round(n^(1/(d-1))) per free coordinate; a periodic one without its hi end)."""
  k = problem.coord_index(coord)
  lo, hi = problem.box(coord)
  if not grid:
    z = problem.uniform(n, rng)
  else:
    free = [i for i in range(problem.d) if i != k]
    m = max(1, int(round(n ** (1.0 / max(len(free), 1)))))
    periodic = {c.coord for c in problem.conditions if isinstance(c, Periodic)}
    axes = []
    for i in free:
      a, b = problem.domain[i]
      name = problem.coord_names[i]
      axes.append(a + (b - a) * np.arange(m) / m if name in periodic else np.linspace(a, b, m))
    z = np.zeros((m ** len(free), problem.d))
    if free:
      z[:, free] = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(free))
  z[:, k] = lo if side == "lo" else hi
  return z


def _on_faces(cond, problem, faces, n: int, rng: np.random.Generator) -> np.ndarray:
  """The condition's points: its own (``points=fn``), or n per face of ``faces`` ((coord, "lo" or
  "hi"), ...), uniform or with ``points="grid"`` equispaced."""
  z = _placed(cond, problem, n, rng)
  if z is not None:
    return z
  grid = cond.points == "grid"
  return np.concatenate([_face(problem, c, side, n, rng, grid) for c, side in faces])


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
  value: Optional[Callable] = None
  name: str = "ic"
  points: Optional[Union[str, Callable]] = None

  def sample(self, problem, n, rng):
    return _on_faces(self, problem, ((problem.time, "lo"),), n, rng)

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
  value: Optional[Callable] = None
  on: Names = ()
  name: str = "bc"
  points: Optional[Union[str, Callable]] = None

  def sample(self, problem, n, rng):
    return _on_faces(self, problem, _parse_sides(problem, self.on), n, rng)

  def residual(self, problem, u, z, mu):
    return _value_misfit(self, problem, u, z, mu)


@dataclasses.dataclass(frozen=True)
class Neumann(Condition):
  """Outward normal derivative of the fields = value(z, mu) on the faces ``on`` (as Dirichlet).
  The points carry their outward direction, so one block serves every face.

  >>> Neumann("u", lambda z, mu: 0.0, on="x=hi").name  # an insulated right end
  'bc_n'
  """

  fields: Names = ()
  value: Optional[Callable] = None
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
    z, normal = zn[: problem.d], zn[problem.d :]
    idx = problem.field_indices(self.fields)
    slope = jax.jvp(u, (z,), (normal,))[1]
    want = _as_vector(self.value(problem.point_dict(z), problem.mu_dict(mu)), len(idx))
    return slope[idx] - want


@dataclasses.dataclass(frozen=True)
class Periodic(Condition):
  """The ``derivative_order``-th derivative in ``coord`` of the fields (0: the values) is equal at
  coord = lo and coord = hi (DeepXDE's PeriodicBC: one order per condition; add one condition per
  order to match). Points: the face coord = lo, or ``points=fn``; each is matched with its copy
  at coord = hi.

  when: optional switch per mu: a parameter name (the condition applies where that parameter is
  not 0, and is dropped from a run where it is 0 for every mu, see Problem.drop_zero), or a
  function mu -> 0/1.

  The CDR family's boundary: u and, where the diffusion nu is not 0, u_x periodic in x:

  >>> import math
  >>> from lrpinn_jax import DataConfig
  >>> from lrpinn_jax.problem import Problem
  >>> cdr = Problem(
  ...   name="cd", coords={"x": (0.0, 2 * math.pi), "t": (0.0, 1.0)}, time="t", fields=("u",),
  ...   params={"beta": (1.0, 5.0), "nu": (0.0, 1.0)},
  ...   residual=lambda u, z, mu: u.directional("u", {"t": 1.0, "x": mu["beta"]})
  ...   - mu["nu"] * u.d2("u", "x"),
  ...   conditions=(Periodic("u", "x"), Periodic("u", "x", derivative_order=1, when="nu",
  ...                                               name="bc_x")))
  >>> {k: v.shape for k, v in cdr.sample_points(DataConfig(n_f=8, n_b=4), 0).items()}
  {'f': (8, 2), 'bc': (4, 2), 'bc_x': (4, 2)}
  """

  fields: Names = ()
  coord: str = "x"
  derivative_order: int = 0
  when: Optional[Union[str, Callable]] = None
  name: str = "bc"
  points: Optional[Union[str, Callable]] = None

  def sample(self, problem, n, rng):
    return _on_faces(self, problem, ((self.coord, "lo"),), n, rng)

  def residual(self, problem, u, z, mu):
    idx = problem.field_indices(self.fields)
    k = problem.coord_index(self.coord)
    lo, hi = problem.box(self.coord)
    e = jnp.zeros_like(z).at[k].set(1.0)
    f = u
    for _ in range(self.derivative_order):
      f = (lambda g: lambda zz: jax.jvp(g, (zz,), (e,))[1])(f)
    res = f(z.at[k].set(lo))[idx] - f(z.at[k].set(hi))[idx]
    if self.when is not None:
      m = problem.mu_dict(mu)
      on = m[self.when] != 0 if isinstance(self.when, str) else self.when(m)
      res = res * jnp.asarray(on, res.dtype)
    return res


@dataclasses.dataclass(frozen=True, eq=False)
class Data(Condition):
  """fields(z_i) = values_i at given points (DeepXDE's PointSetBC): observations, or initial
  data that is known only at points. points (n, d); values (n,) for one field or (n, k) for k
  fields; the same for every mu.

  >>> import numpy as np
  >>> z = np.array([[0.5, 0.1], [1.0, 0.2]])  # (x, t) of two measurements
  >>> Data("u", z, np.array([1.2, 0.9])).sample(None, 0, None).tolist()  # points beside values
  [[0.5, 0.1, 1.2], [1.0, 0.2, 0.9]]
  """

  fields: Names = ()
  points: Any = None  # (n, d) array-like
  values: Any = None  # (n,) or (n, k) array-like
  name: str = "data"

  def sample(self, problem, n, rng):
    z = np.asarray(self.points, np.float64)
    v = np.asarray(self.values, np.float64).reshape(len(z), -1)
    return np.concatenate([z, v], 1)

  def residual(self, problem, u, zv, mu):
    idx = problem.field_indices(self.fields)
    return u(zv[: problem.d])[idx] - zv[problem.d :]


@dataclasses.dataclass(frozen=True)
class Mean(Condition):
  """The mean of the fields over the coordinates ``over`` equals value(z, mu) at each point of the
  other coordinates: fixes a field that the equations define only up to an additive function of
  those others (a pressure of a periodic or enclosed flow, up to c(t)). The mean is the midpoint
  rule on ``n`` points per coordinate of ``over`` (exact for periodic trigonometric fields of
  degree < n). Points: uniform in the box (their ``over`` coordinates are not used), or
  ``points=fn``.

  >>> Mean("p", over=("x", "y")).name  # Taylor-Green's pressure: mean 0 over x, y at every t
  'mean'
  """

  fields: Names = ()
  over: Names = ()
  value: Optional[Callable] = None  # None: 0
  n: int = 8
  name: str = "mean"
  points: Optional[Union[str, Callable]] = None

  def sample(self, problem, n, rng):
    z = _placed(self, problem, n, rng)
    return problem.uniform(n, rng) if z is None else z

  def residual(self, problem, u, z, mu):
    idx = problem.field_indices(self.fields)
    ks = [problem.coord_index(c) for c in _names(self.over)]
    axes = [
      lo + (hi - lo) * (np.arange(self.n) + 0.5) / self.n
      for lo, hi in (problem.domain[k] for k in ks)
    ]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(ks))
    pts = (
      jnp.broadcast_to(z, (grid.shape[0], z.shape[0]))
      .at[:, jnp.asarray(ks)]
      .set(jnp.asarray(grid, z.dtype))
    )
    mean = jnp.mean(jax.vmap(u)(pts)[:, idx], axis=0)
    if self.value is None:
      return mean
    return mean - _as_vector(self.value(problem.point_dict(z), problem.mu_dict(mu)), len(idx))
