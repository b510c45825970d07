"""Programs kept on disk beside the compilation cache, so that a command run again starts warm.

The persistent compilation cache (lrpinn_jax.io.cache) skips XLA's compilation, but a command
still traces and lowers each program before it can look the program up: for the inverse
command's two solves that was 4-5 s of a 12 s command. ``stored(fn, name, key)`` returns a
function that, the first time it sees argument shapes, exports ``jax.jit(fn)`` with
``jax.export`` (StableHLO) and writes it to ``<cache folder>/programs/``; a later process loads
it from there and calls it without tracing ``fn``. A stored program is found by a hash of
``name``, ``key`` (everything ``fn`` depends on besides its arguments: the caller's static
settings), the arguments' tree, shapes and dtypes, the backend, and the source of this package,
so that a change in the code never reuses an old program. With no cache folder set (the library
used from Python), it is ``jax.jit(fn)``.

>>> # solve = stored(lambda params, x: ..., "my_solve", repr(static_settings))
>>> # solve(params, x)   # exported and written once, loaded by later runs
"""
from __future__ import annotations

import functools
import hashlib
import os
from typing import Callable, Optional

import jax
from jax import export

FOLDER = "programs"


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
  """Hash of every .py file of lrpinn_jax: programs are stored per version of the code."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  h = hashlib.sha256(jax.__version__.encode())
  for folder, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for name in sorted(files):
      if name.endswith(".py"):
        with open(os.path.join(folder, name), "rb") as f:
          h.update(name.encode() + f.read())
  return h.hexdigest()


def _folder():
  cache = jax.config.jax_compilation_cache_dir
  return os.path.join(cache, FOLDER) if cache else None


def stored(fn: Callable, name: str, key: Optional[str]) -> Callable:
  """``fn`` (a pure function of arrays and pytrees of arrays, returning tuples, lists and dicts
  of arrays) as a jitted function whose programs are stored on disk per argument shapes (module
  docstring). ``key`` must name every setting ``fn`` closes over; None (e.g. a user's problem,
  whose code is not hashed): plain ``jax.jit(fn)``."""
  jitted = jax.jit(fn)
  loaded = {}

  def call(*args):
    folder = _folder()
    if folder is None or key is None:
      return jitted(*args)
    leaves, tree = jax.tree.flatten(args)
    shapes = tuple((tuple(jax.numpy.shape(x)), str(jax.numpy.result_type(x))) for x in leaves)
    digest = hashlib.sha256(repr((name, key, str(tree), shapes, jax.default_backend(),
                                  _source_hash())).encode()).hexdigest()[:32]
    if digest not in loaded:
      exp = _load_or_export(folder, f"{name}-{digest}", fn, tree, leaves)
      loaded[digest] = jitted if exp is None else jax.jit(exp.call)
    if loaded[digest] is jitted:
      return jitted(*args)
    return loaded[digest](*leaves)

  return call


def problem_key(solver) -> Optional[str]:
  """The part of a stored program's key that names a model's problem: the built-in problem and
  initial condition, or None for a user's problem (its code is not part of the hash)."""
  from lrpinn_jax.pdes.registry import PRESETS
  info = solver.info
  name = info.get("pde", "convection")
  return repr((name, info.get("init_cond", "sin_1"))) if name in PRESETS else None


def _load_or_export(folder: str, stem: str, fn: Callable, tree, leaves
                    ) -> Optional[export.Exported]:
  """The stored program, or a new one written there; None when ``fn`` cannot be exported (its
  outputs are not tuples, lists and dicts): the caller then jits it as usual."""
  path = os.path.join(folder, stem + ".bin")
  try:
    with open(path, "rb") as f:
      return export.deserialize(bytearray(f.read()))
  except (OSError, ValueError):
    pass
  flat = lambda *xs: fn(*jax.tree.unflatten(tree, xs))
  specs = [jax.ShapeDtypeStruct(jax.numpy.shape(x), jax.numpy.result_type(x)) for x in leaves]
  exp = export.export(jax.jit(flat))(*specs)
  try:
    data = exp.serialize()
  except (TypeError, ValueError, ImportError):
    return None
  try:
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
      f.write(data)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the whole program or none
  except OSError:
    pass  # a read-only cache: the program is used, not kept
  return exp
