"""The registry of problems by name, and the helpers the trainers use on any Problem.

Every PDE is an lrpinn_jax Problem (lrpinn_jax.problem): the built-ins are written with the same
public API in lrpinn_jax/pdes/ (``cdr``: the convection-diffusion-reaction family and its six
presets; ``helmholtz``; ``burgers``), and a user's problem comes from a file or a module. The
trainers see a problem only through its protocol:

  mu_dim, mu_names, coord_names, fields, time, domain   what mu, the inputs and the outputs are
  sample_points(data_cfg, seed)   training points: {block name: (n, ...) array}
  resample(points, key)           fresh interior points (jax; for --resample)
  blocks(points, mode, need_xx)   the residual blocks: (name, fn(u, mu, *cols), cols)
  needs_uxx(mus)                  whether these mu need the full residual (drop_zero terms)
  reference(*coords, mu)          exact / reference solution at points for one mu, float64
  check_mu(mus)                   UserError for mu the problem refuses
"""

from __future__ import annotations

import warnings

from lrpinn_jax.errors import UserError
from lrpinn_jax.pdes.cdr import INIT_CONDS, cdr, initial_value  # noqa: F401
from lrpinn_jax.pdes.cdr import PRESETS as CDR_PRESETS
from lrpinn_jax.pdes.helmholtz import helmholtz

# Built-in problems that live in a module of their own: name -> "module:attribute".
PROBLEMS = {
  "burgers": "lrpinn_jax.pdes.burgers:problem",
  "kovasznay": "lrpinn_jax.pdes.kovasznay:problem",
  "taylor_green": "lrpinn_jax.pdes.taylor_green:problem",
}
PRESETS = tuple(CDR_PRESETS) + ("helmholtz",) + tuple(PROBLEMS)


def make_pde(name: str = "convection", init_cond: str = "sin_1"):
  """The Problem for a built-in name (a CDR preset with its initial condition, "helmholtz",
  "burgers"), or from a file or module ("path/file.py[:NAME]", "module:NAME").

  >>> make_pde("convection").mu_names, make_pde("helmholtz").coord_names
  (('beta', 'nu', 'rho'), ('x', 'y'))
  >>> make_pde("kovasznay").fields
  ('u', 'v', 'p')
  """
  from lrpinn_jax.problem import _source

  if name in PROBLEMS or _source.is_source(name):
    return _source.load_problem(PROBLEMS.get(name, name))
  if name == "helmholtz":
    return helmholtz()
  if name not in CDR_PRESETS:
    raise UserError(f"unknown PDE {name!r}; choose one of {PRESETS}, or a problem file")
  return cdr(name, init_cond)


def CDR1D(name: str = "convection", init_cond: str = "sin_1", **_):  # noqa: N802 (old class name)
  """Deprecated: the CDR family is a Problem now, ``lrpinn_jax.pdes.cdr.cdr(preset, init_cond)``."""
  warnings.warn(
    "CDR1D is deprecated: use lrpinn_jax.pdes.cdr.cdr(preset, init_cond)",
    DeprecationWarning,
    stacklevel=2,
  )
  return cdr(name, init_cond)


def Helmholtz2D(k: float = 1.0, scale_residual: bool = True, **_):  # noqa: N802
  """Deprecated: Helmholtz is a Problem now, ``lrpinn_jax.pdes.helmholtz.helmholtz(k)``."""
  warnings.warn(
    "Helmholtz2D is deprecated: use lrpinn_jax.pdes.helmholtz.helmholtz(k)",
    DeprecationWarning,
    stacklevel=2,
  )
  return helmholtz(k, scale_residual)


def pde_of(solver):
  """The PDE or Problem a loaded model was trained on (from its model.json), checked against the
  model: a problem file that changed its coordinates, fields or parameters since is refused."""
  info = solver.info
  pde = make_pde(info.get("pde", "convection"), info.get("init_cond", "sin_1"))
  cfg = solver.config
  have = (len(pde.domain), len(pde.fields), pde.mu_dim)
  if have != (cfg.n_in, cfg.n_out, cfg.mu_dim):
    raise UserError(
      f"the model's problem {info.get('pde')} has changed: the model takes "
      f"{cfg.n_in} coordinates, {cfg.n_out} fields and {cfg.mu_dim} parameters, the "
      f"problem now has {have[0]}, {have[1]} and {have[2]}"
    )
  return pde
