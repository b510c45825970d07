"""Where a Problem comes from, as one string model.json can keep: "path/to/file.py" (the object
named ``problem``), "path/to/file.py:NAME", or "package.module:NAME"."""

from __future__ import annotations

import importlib
import importlib.util
import os

from lrpinn_jax.errors import UserError


def is_source(spec: str) -> bool:
  """Whether ``spec`` names a problem file or module object (not a built-in PDE name)."""
  return spec.endswith(".py") or ":" in spec


def load_problem(spec: str):
  """The Problem that ``spec`` names, with ``source`` set to ``spec``."""
  from lrpinn_jax.problem._problem import Problem

  path, sep, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
  if not sep and not path.endswith(".py"):
    raise UserError(f"--problem={spec}: expected FILE.py, FILE.py:NAME or module:NAME")
  attr = attr or "problem"
  if path.endswith(".py"):
    if not os.path.isfile(path):
      raise UserError(f"problem file not found: {path}")
    name = "lrpinn_jax_problem_" + os.path.splitext(os.path.basename(path))[0]
    mod_spec = importlib.util.spec_from_file_location(name, path)
    if mod_spec is None or mod_spec.loader is None:
      raise UserError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(mod_spec)
    try:
      mod_spec.loader.exec_module(module)
    except UserError as e:
      raise UserError(f"{path}: {e}") from None
    except Exception as e:
      raise UserError(f"{path} failed to load: {type(e).__name__}: {e}") from None
  else:
    try:
      module = importlib.import_module(path)
    except ImportError as e:
      raise UserError(f"--problem={spec}: cannot import {path}: {e}") from None
  obj = getattr(module, attr, None)
  if not isinstance(obj, Problem):
    raise UserError(
      f"{spec}: {attr!r} is {'missing' if obj is None else type(obj).__name__}, "
      f"not an lrpinn_jax Problem"
    )
  object.__setattr__(obj, "source", spec)
  return obj
