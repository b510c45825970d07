"""A parameterized PDE problem: coordinates, fields, parameters mu, a residual at ONE point, and
conditions. Static data plus pure functions, so the trainers can close over it in jitted steps.

  problem = Problem(
      coords={"x": (-1.0, 1.0), "t": (0.0, 1.0)}, time="t",
      fields=("u",),
      params={"nu": (0.01 / pi, 0.1 / pi), "A": (0.5, 1.0)},
      residual=lambda u, z, mu: u.d("u", "t") + u("u") * u.d("u", "x") - mu["nu"] * u.d2("u", "x"),
      conditions=(Initial("u", lambda z, mu: -mu["A"] * jnp.sin(pi * z["x"])),
                  Dirichlet("u", lambda z, mu: 0.0, on="x")),
  )

The residual gets ``u`` (lrpinn_jax.problem.Fields: values and derivatives by name), the point
``z`` and the parameters ``mu`` (dicts of scalars by name), and returns one value per equation
(a scalar, or a tuple for a system).

A family of PDEs in one problem (convection, diffusion and reaction as members of one
convection-diffusion-reaction problem) may name parameters in ``drop_zero``: in a compiled
program where such a parameter is 0 for every mu, it reaches the residual as the Python float
0.0, so the residual can leave out its term, and the derivatives it needs, with
``if not absent(mu["nu"]): ...``. The trainers see a Problem through the members below
(``blocks``, ``sample_points``, ``resample``, ``reference``, ``check_mu``...), the same protocol as
the built-in PDEs.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, Dict, Mapping, Optional, Tuple, Union, cast

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.errors import UserError
from lrpinn_jax.precision import np_real
from lrpinn_jax.problem._conditions import Condition, Initial, _as_vector, _names
from lrpinn_jax.problem._conditions import Data as _Data
from lrpinn_jax.problem._fields import Fields

Box = Tuple[Tuple[str, float, float], ...]  # the stored form: ((name, lo, hi), ...)
BoxSpec = Union[Mapping[str, Tuple[float, float]], Box]  # as given: {name: (lo, hi)}

ABSENT = 0.0  # a drop_zero parameter in a program where it is 0 for every mu (a Python float)


def absent(value) -> bool:
  """Whether a parameter value is the Python 0.0 of a dropped parameter (Problem.drop_zero), so
  its term can be left out of the residual."""
  return isinstance(value, float) and value == 0.0


def _box(name: str, value) -> Box:
  """{"x": (lo, hi), ...} or ((name, lo, hi), ...) -> ((name, lo, hi), ...), checked."""
  items = value.items() if isinstance(value, Mapping) else [(v[0], v[1:]) for v in value]
  out = []
  for key, rng in items:
    try:
      lo, hi = (float(v) for v in rng)
    except (TypeError, ValueError):
      raise UserError(f"Problem {name}: {key!r} needs (lo, hi), got {rng!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
      raise UserError(f"Problem {name}: {key!r} needs finite lo < hi, got ({lo:g}, {hi:g})")
    out.append((str(key), lo, hi))
  if not out:
    raise UserError(f"Problem {name}: at least one entry is needed")
  return tuple(out)


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
  """A parameterized PDE problem: the residual r(u, z; mu) = 0 at ONE point z, with conditions.

  The heat equation u_t = k u_xx on (0, 1) x (0, 1], u0 = sin(pi x), u = 0 at x = 0 and 1, k in
  [0.5, 2], whose exact solution is exp(-k pi^2 t) sin(pi x):

  >>> import math, numpy as np, jax.numpy as jnp
  >>> from lrpinn_jax import DataConfig
  >>> from lrpinn_jax.problem import Dirichlet, Initial, Problem
  >>> heat = Problem(
  ...   name="heat", coords={"x": (0.0, 1.0), "t": (0.0, 1.0)}, time="t", fields=("u",),
  ...   params={"k": (0.5, 2.0)},
  ...   residual=lambda u, z, mu: u.d("u", "t") - mu["k"] * u.d2("u", "x"),
  ...   conditions=(Initial("u", lambda z, mu: jnp.sin(math.pi * z["x"])),
  ...               Dirichlet("u", lambda z, mu: 0.0, on="x")),
  ...   exact=lambda z, mu: np.exp(-mu["k"] * math.pi**2 * z["t"]) * np.sin(math.pi * z["x"]))
  >>> heat.mu_dim, heat.coord_names
  (1, ('x', 't'))
  >>> {name: a.shape for name, a in heat.sample_points(DataConfig(n_f=16, n_0=8, n_b=4), 0).items()}
  {'f': (16, 2), 'ic': (8, 2), 'bc': (8, 2)}
  >>> heat.reference(np.array([0.5]), np.array([0.1]), np.array([1.0])).round(4)
  array([0.3727])

  Every trainer and command takes it (``experiments.train --problem=FILE.py``); the module
  docstring has the vocabulary of conditions and derivatives.

  Attributes:
    coords: {name: (lo, hi)} of the coordinates, in the network's input order.
    fields: names of the output fields, in the network's output order.
    params: {name: (lo, hi)}: the parameters mu and the box they are trained on.
    residual: (u: Fields, z: dict, mu: dict) -> scalar or tuple of scalars (one per equation).
    conditions: Initial, Dirichlet, Neumann, Periodic... (lrpinn_jax.problem).
    time: the name of the time coordinate, if any.
    exact: optional (z: dict of arrays, mu: dict of floats) -> array (one field) or tuple of
      arrays (one per field), numpy float64: the exact or reference solution for test errors.
    name: a short name (printed, and written in model.json beside the problem's source).
    extrapolate: whether mu outside ``params``' box is accepted (zero-shot beyond the box).
    equations: optional number of equations the residual returns, checked before training.
    drop_zero: parameters whose terms a program may leave out when they are 0 for every mu it
      sees (module docstring); their Periodic conditions with ``when=name`` are dropped too.
    mu_check: optional (mu: dict of (n,) numpy arrays) -> an error message or None: the
      parameter values the problem refuses (e.g. negative viscosity), checked on every mu.
    mean_free: fields defined up to a constant (a pressure fixed only by its gradient): test
      errors compare them after removing their mean over the test points.
    error_groups: {name: fields} whose errors are also reported together (e.g. "velocity":
      ("u", "v")), beside each field's own and all fields'.
  """

  coords: BoxSpec
  fields: Tuple[str, ...]
  params: BoxSpec
  residual: Callable
  conditions: Tuple[Condition, ...] = ()
  time: Optional[str] = None
  exact: Optional[Callable] = None
  name: str = "problem"
  extrapolate: bool = True
  equations: Optional[int] = None
  drop_zero: Tuple[str, ...] = ()
  mu_check: Optional[Callable] = None
  mean_free: Tuple[str, ...] = ()
  error_groups: Mapping[str, Tuple[str, ...]] = dataclasses.field(default_factory=dict)
  source: str = ""  # where the problem comes from ("file.py:problem", "module:name"); set by load

  def __post_init__(self):
    set_ = lambda k, v: object.__setattr__(self, k, v)
    set_("coords", _box("coords", self.coords))
    set_("params", _box("params", self.params))
    fields = _names(self.fields)
    if not fields or len(set(fields)) != len(fields):
      raise UserError(f"Problem fields: give distinct names, got {fields!r}")
    set_("fields", fields)
    set_("conditions", tuple(self.conditions))
    if self.time is not None and self.time not in self.coord_names:
      raise UserError(
        f"Problem time={self.time!r} is not one of the coordinates {self.coord_names}"
      )
    set_("drop_zero", _names(self.drop_zero))
    set_("mean_free", _names(self.mean_free))
    set_("error_groups", {str(k): _names(v) for k, v in dict(self.error_groups).items()})
    for f in self.mean_free + tuple(f for g in self.error_groups.values() for f in g):
      if f not in fields:
        raise UserError(
          f"Problem mean_free / error_groups: unknown field {f!r}; the fields are {fields}"
        )
    for p in self.drop_zero:
      if p not in self.mu_names:
        raise UserError(
          f"Problem drop_zero: unknown parameter {p!r}; the parameters are {self.mu_names}"
        )
    names = [c.name for c in self.conditions]
    for c in self.conditions:
      kind = type(c).__name__
      for f in _names(c.fields):
        if f not in fields:
          raise UserError(
            f"condition {kind} {c.name!r}: unknown field {f!r}; the problem's fields are {fields}"
          )
      pts = getattr(c, "points", None)
      if not (isinstance(c, _Data) or pts is None or pts == "grid" or callable(pts)):
        raise UserError(
          f'condition {kind} {c.name!r}: points must be "grid" or a function '
          f"(n, rng) -> (n, d), got {pts!r}"
        )
      for name in _names(getattr(c, "over", ())):
        if name not in self.coord_names:
          raise UserError(
            f"condition {kind} {c.name!r}: unknown coordinate {name!r} in over; "
            f"the problem's coordinates are {self.coord_names}"
          )
      coord = getattr(c, "coord", None)
      if coord is not None and coord not in self.coord_names:
        raise UserError(
          f"condition {kind}: unknown coordinate {coord!r}; the problem's "
          f"coordinates are {self.coord_names}"
        )
      for side in _names(getattr(c, "on", ())):
        name, _, end = side.partition("=")
        if name not in self.coord_names or end not in ("", "lo", "hi"):
          raise UserError(
            f"condition {kind}: unknown face {side!r}; use a coordinate name, or "
            f"name=lo / name=hi, of {self.coord_names}"
          )
      if isinstance(getattr(c, "when", None), str) and c.when not in self.mu_names:
        raise UserError(
          f"condition {kind} {c.name!r}: when={c.when!r} is not a parameter of {self.mu_names}"
        )
      if isinstance(c, Initial) and self.time is None:
        raise UserError("an Initial condition needs the problem's time coordinate (time=...)")
    if len(set(names)) != len(names) or "f" in names:
      raise UserError(f"condition names must be distinct and not 'f', got {names}")

  # --- what a problem is ---------------------------------------------------------------------
  @property
  def _coords_box(self) -> Box:  # coords after __post_init__
    return cast(Box, self.coords)

  @property
  def _params_box(self) -> Box:  # params after __post_init__
    return cast(Box, self.params)

  @property
  def coord_names(self) -> Tuple[str, ...]:
    return tuple(c[0] for c in self._coords_box)

  @property
  def field_names(self) -> Tuple[str, ...]:
    return self.fields

  @property
  def d(self) -> int:
    return len(self._coords_box)

  @property
  def n_fields(self) -> int:
    return len(self.fields)

  @property
  def mu_dim(self) -> int:
    """The length of one mu (the number of parameters)."""
    return len(self._params_box)

  @property
  def n_mu(self) -> int:
    warnings.warn("Problem.n_mu is now Problem.mu_dim", DeprecationWarning, stacklevel=2)
    return self.mu_dim

  @property
  def mu_names(self) -> Tuple[str, ...]:
    return tuple(p[0] for p in self._params_box)

  @property
  def mu_box(self) -> np.ndarray:
    """(mu_dim, 2): lo, hi of each parameter."""
    return np.array([p[1:] for p in self._params_box], np.float64)

  @property
  def domain(self) -> Tuple[Tuple[float, float], ...]:
    return tuple(c[1:] for c in self._coords_box)

  init_cond = "none"  # the built-in CDR's initial-condition switch; a Problem has its own

  def box(self, coord: str) -> Tuple[float, float]:
    return self._coords_box[self.coord_index(coord)][1:]

  def coord_index(self, coord: str) -> int:
    return self.coord_names.index(coord)

  def field_indices(self, fields) -> np.ndarray:
    """Indices of ``fields`` (a name or names; () for all) in the network's output."""
    return np.array([self.fields.index(f) for f in (_names(fields) or self.fields)], np.int32)

  def point_dict(self, z) -> Dict[str, jnp.ndarray]:
    return {name: z[..., i] for i, name in enumerate(self.coord_names)}

  def mu_dict(self, mu) -> Dict[str, jnp.ndarray]:
    return {name: mu[..., i] for i, name in enumerate(self.mu_names)}

  def initial_condition(self) -> Optional[Initial]:
    """The problem's Initial condition when it has exactly one, else None."""
    ics = [c for c in self.conditions if isinstance(c, Initial)]
    return ics[0] if len(ics) == 1 else None

  def exact_initial(self, u: Callable, mu) -> Callable:
    """The network u(*coords) (scalar or fields (n,)) made to hold the Initial condition exactly
    for this mu (mu_dim,): u0(z; mu) + (t - t0) u(*coords) on that condition's fields, the other
    fields unchanged (ModelConfig.hard_ic). Needs exactly one Initial condition."""
    ic = self.initial_condition()
    if ic is None:
      raise UserError(
        f"{self.name}: an exact initial condition needs exactly one Initial condition"
      )
    if self.time is None:
      raise UserError(f"{self.name}: an exact initial condition needs a time coordinate")
    idx = self.field_indices(ic.fields)
    k = self.coord_index(self.time)
    t0 = self.box(self.time)[0]

    def held(*z):
      out = u(*z)
      u0 = _as_vector(ic.value(self.point_dict(jnp.stack(z)), self.mu_dict(mu)), len(idx))
      v = jnp.atleast_1d(out)
      v = v.at[idx].set(u0 + (z[k] - t0) * v[idx])
      return v[0] if jnp.ndim(out) == 0 else v

    return held

  # --- points --------------------------------------------------------------------------------
  def uniform(self, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (n, d) uniform in the box, drawn one coordinate after the other."""
    return np.stack([rng.uniform(lo, hi, n) for lo, hi in self.domain], 1)

  def sample_points(self, cfg, seed: int) -> dict:
    """{"f": (n_f, d) interior points, condition name: its points} (precision.real()): initial
    conditions get n_0 points, the others n_b per face."""
    rng = np.random.default_rng([seed, 0])
    out = {"f": self.uniform(cfg.n_f, rng)}
    for c in self.conditions:
      n = cfg.n_0 if isinstance(c, Initial) else cfg.n_b
      out[c.name] = c.sample(self, n, rng)
    return {k: np.asarray(v, np_real()) for k, v in out.items()}

  def resample(self, points: dict, key) -> dict:
    """Fresh uniform interior points (jax, one key per coordinate), the condition points kept."""
    f = points["f"]
    keys = jax.random.split(key, self.d)
    cols = [
      jax.random.uniform(k, f.shape[:1], f.dtype, lo, hi) for k, (lo, hi) in zip(keys, self.domain)
    ]
    return {**points, "f": jnp.stack(cols, 1)}

  def with_box(self, **boxes) -> "Problem":
    """The same problem on a smaller or larger box, e.g. ``with_box(t=(0.0, 0.5))``."""
    coords = tuple((c, *boxes.get(c, (lo, hi))) for c, lo, hi in self._coords_box)
    unknown = set(boxes) - set(self.coord_names)
    if unknown:
      raise UserError(f"with_box: unknown coordinate(s) {sorted(unknown)}")
    return dataclasses.replace(self, coords=coords)

  def test_points(self, n: int, seed: int) -> np.ndarray:
    """n points (n, d) float64 uniform in the box, the same for every mu."""
    return self.uniform(n, np.random.default_rng([seed, 1]))

  # --- residual blocks (the trainers' protocol) ----------------------------------------------
  def _vector_net(self, u: Callable) -> Callable:
    """The network as z (d,) -> fields (n,), from the trainers' u(*coords)."""
    return lambda z: jnp.atleast_1d(u(*(z[i] for i in range(self.d))))

  def pde_residual(self, u: Callable, z, mu, dropped=frozenset()) -> jnp.ndarray:
    """The residual at ONE point z (d,) for one mu (mu_dim,) of the network z -> fields: a scalar
    for one equation, a vector (n_eq,) for several. ``dropped`` parameters arrive as 0.0."""
    spatial = tuple(c for c in self.coord_names if c != self.time)
    m = {k: (ABSENT if k in dropped else v) for k, v in self.mu_dict(mu).items()}
    out = self.residual(Fields(u, z, self.coord_names, self.fields, spatial), self.point_dict(z), m)
    if isinstance(out, (tuple, list)):
      return jnp.stack([jnp.asarray(v) for v in out])
    return jnp.asarray(out)

  def blocks(self, points: dict, mode: str = "jvp", need_xx: bool = True):
    """(name, fn(u, mu, *cols), cols) per block: the PDE residual "f" at the interior points and
    one block per condition. need_xx=False: every ``drop_zero`` parameter is 0 for every mu of
    this program (``needs_uxx``), so it reaches the residual as the Python 0.0 and the
    conditions switched by it are left out. mode: "jvp" (the only one)."""
    if mode != "jvp":
      raise UserError(f"derivatives are forward mode (jvp); mode {mode!r} is not supported")
    dropped = frozenset(() if need_xx else self.drop_zero)

    def scalar_if_one(r):  # one value per point: a scalar, as Levenberg-Marquardt's rows need
      return r.reshape(()) if r.size == 1 else r

    def f(u, mu, z):
      return scalar_if_one(self.pde_residual(self._vector_net(u), z, mu, dropped))

    out = [("f", f, (points["f"],))]
    for c in self.conditions:
      if getattr(c, "when", None) in dropped:
        continue
      out.append(
        (
          c.name,
          (lambda c: lambda u, mu, z: scalar_if_one(c.residual(self, self._vector_net(u), z, mu)))(
            c
          ),
          (points[c.name],),
        )
      )
    return tuple(out)

  def needs_uxx(self, mus) -> bool:
    """Whether a program for these mu (n, mu_dim) needs the full residual: False only when every
    ``drop_zero`` parameter is 0 for every mu (the name is the trainers' protocol: for the
    convection-diffusion-reaction family this is whether u_xx is needed)."""
    if not self.drop_zero:
      return True
    mus = np.asarray(mus, np.float64).reshape(-1, self.mu_dim)
    idx = [self.mu_names.index(p) for p in self.drop_zero]
    return bool(np.any(mus[:, idx] != 0))

  # --- parameters and reference --------------------------------------------------------------
  def check_mu(self, mus) -> None:
    mus = np.asarray(mus, np.float64).reshape(-1, self.mu_dim)
    if not np.all(np.isfinite(mus)):
      raise UserError(f"{self.name}: mu must be finite")
    if self.mu_check is not None:
      message = self.mu_check({k: mus[:, i] for i, k in enumerate(self.mu_names)})
      if message:
        raise UserError(message)
    if not self.extrapolate:
      lo, hi = self.mu_box.T
      bad = np.any((mus < lo) | (mus > hi), axis=1)
      if np.any(bad):
        raise UserError(
          f"{self.name}: mu {mus[bad][0].tolist()} is outside the box "
          f"{dict(zip(self.mu_names, self.mu_box.tolist()))} and the problem does "
          f"not extrapolate"
        )

  def reference(self, *coords_and_mu) -> np.ndarray:
    """The exact solution at points (coordinate arrays of one shape, in order) for one mu:
    that shape for one field, that shape plus a trailing field axis for several (float64)."""
    if self.exact is None:
      raise UserError(f"{self.name} has no exact or reference solution (Problem.exact)")
    *coords, mu = coords_and_mu
    z = {name: np.asarray(c, np.float64) for name, c in zip(self.coord_names, coords)}
    m = {name: float(v) for name, v in zip(self.mu_names, np.asarray(mu, np.float64).ravel())}
    out = self.exact(z, m)
    if isinstance(out, (tuple, list)):
      return np.stack(
        [np.broadcast_to(np.asarray(v, np.float64), z[self.coord_names[0]].shape) for v in out], -1
      )
    return np.broadcast_to(np.asarray(out, np.float64), z[self.coord_names[0]].shape)

  def check(self) -> None:
    """Evaluates the residual and every condition once at a point of the box for the box's centre
    mu with a smooth stand-in network, so a problem that returns the wrong number of equations
    or non-finite values fails here in one line that names the part, not inside a jitted step."""
    z = jnp.asarray(np.array(self.domain).mean(1) + 0.1 * np.ptp(np.array(self.domain), 1) / 3)
    mu = jnp.asarray(self.mu_box.mean(1))
    net = lambda zz: jnp.tanh(jnp.sum(zz) + jnp.arange(1.0, self.n_fields + 1.0))
    try:
      r = self.pde_residual(net, z, mu)
    except UserError:
      raise
    except Exception as e:
      raise UserError(
        f"{self.name}: the residual failed at one point: {type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else ''}"
      ) from None
    n_eq = self.equations
    if r.ndim > 1 or (n_eq is not None and r.size != n_eq):
      raise UserError(
        f"{self.name}: the residual returned shape {r.shape}; expected one value "
        f"per equation" + (f" ({n_eq})" if n_eq else "")
      )
    if not np.all(np.isfinite(np.asarray(r))):
      raise UserError(
        f"{self.name}: the residual is not finite at z={np.asarray(z).tolist()}, "
        f"mu={np.asarray(mu).tolist()}"
      )
    for c in self.conditions:
      zc = c.sample(self, 1, np.random.default_rng(0))[0]
      try:
        v = c.residual(self, net, jnp.asarray(zc), mu)
      except Exception as e:
        raise UserError(
          f"{self.name}: condition {c.name!r} failed at one point: "
          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
      if not np.all(np.isfinite(np.asarray(v))):
        raise UserError(f"{self.name}: condition {c.name!r} is not finite at one point")
