"""The network's fields at ONE point, with derivatives by coordinate name (forward mode).

A residual receives ``u``, a ``Fields`` bound to the network and the point. Every derivative is a
``jax.jvp`` (forward mode, measured faster than reverse mode for PINN residuals): one tangent gives
the derivative of all fields along one direction at once, and each is computed once per point
however often the residual asks for it.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp

from lrpinn_jax.errors import UserError


class Fields:
  """The fields of ``net`` at the point ``z`` (d,), by name.

  >>> # in a residual: u_t + u u_x - nu u_xx
  >>> # u.d("u", "t") + u("u") * u.d("u", "x") - mu["nu"] * u.d2("u", "x")

  Args:
    net: z (d,) -> fields (n,).
    z: the point (d,).
    coords: the coordinate names, in the order of z.
    fields: the field names, in the order of net's output.
    spatial: the coordinates of ``laplacian`` (all but time).
  """

  def __init__(
    self,
    net: Callable,
    z: jnp.ndarray,
    coords: Sequence[str],
    fields: Sequence[str],
    spatial: Sequence[str],
  ):
    self._net, self._z = net, z
    self._coords, self._fields, self._spatial = tuple(coords), tuple(fields), tuple(spatial)
    self._memo: Dict[Any, jnp.ndarray] = {}  # "value", ("d", coord), ("d2", c1, c2)

  def _field(self, name: str) -> int:
    try:
      return self._fields.index(name)
    except ValueError:
      raise UserError(f"unknown field {name!r}; the problem's fields are {self._fields}") from None

  def _tangent(self, direction: Mapping[str, float]) -> jnp.ndarray:
    t = jnp.zeros_like(self._z)
    for name, w in direction.items():
      if name not in self._coords:
        raise UserError(
          f"unknown coordinate {name!r}; the problem's coordinates are {self._coords}"
        )
      t = t.at[self._coords.index(name)].set(w)
    return t

  def values(self) -> jnp.ndarray:
    """All fields (n,)."""
    if "value" not in self._memo:
      self._memo["value"] = self._net(self._z)
    return self._memo["value"]

  def __call__(self, field: str) -> jnp.ndarray:
    """The value of ``field`` (scalar)."""
    return self.values()[self._field(field)]

  def __getitem__(self, field: str) -> jnp.ndarray:
    return self(field)

  def directional(self, field: str, direction: Mapping[str, float]) -> jnp.ndarray:
    """sum_c direction[c] d field / d c: one jvp (e.g. u_t + beta u_x: {"t": 1, "x": beta});
    the weights may be traced values such as mu entries."""
    value, out = jax.jvp(self._net, (self._z,), (self._tangent(direction),))
    self._memo.setdefault("value", value)
    return out[self._field(field)]

  def d(self, field: str, coord: str) -> jnp.ndarray:
    """d field / d coord."""
    key = ("d", coord)
    if key not in self._memo:
      value, self._memo[key] = jax.jvp(self._net, (self._z,), (self._tangent({coord: 1.0}),))
      self._memo.setdefault("value", value)
    return self._memo[key][self._field(field)]

  def d2(self, field: str, coord: str, coord2: Optional[str] = None) -> jnp.ndarray:
    """d^2 field / d coord d coord2 (coord2 defaults to coord): a nested jvp."""
    coord2 = coord2 or coord
    key = ("d2",) + tuple(sorted((coord, coord2)))
    if key not in self._memo:
      t1, t2 = self._tangent({coord: 1.0}), self._tangent({coord2: 1.0})
      first = lambda z: jax.jvp(self._net, (z,), (t1,))[1]
      self._memo[key] = jax.jvp(first, (self._z,), (t2,))[1]
    return self._memo[key][self._field(field)]

  def laplacian(self, field: str, coords: Optional[Sequence[str]] = None) -> jnp.ndarray:
    """sum of d2(field, c) over ``coords`` (default: every coordinate but time)."""
    terms = [self.d2(field, c) for c in (coords or self._spatial)]
    if not terms:
      raise UserError("laplacian: the problem has no coordinate besides time")
    return functools.reduce(operator.add, terms)
