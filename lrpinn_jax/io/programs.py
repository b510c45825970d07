"""Programs kept on disk beside the compilation cache, so that a command run again starts warm.

The persistent compilation cache (lrpinn_jax.io.cache) skips XLA's compilation, but a command still
traces and lowers each program before it can look the program up: for the inverse command's two
solves that was most of their 6.5 s (BUILD_NOTES.md). ``stored(fn, name, key)`` returns a function
that, the first time it sees argument shapes, exports ``jax.jit(fn)`` with ``jax.export``
(StableHLO) and writes it to ``<cache folder>/programs/``; a later process loads it from there and
calls it without tracing ``fn``. A stored program is found by a hash of ``name``, ``key``
(everything ``fn`` depends on besides its arguments: the caller's static settings), the arguments'
tree, shapes and dtypes, the backend, and the source of this package, so that a change in the code
never reuses an old program. With no cache folder set (the library used from Python), it is
``jax.jit(fn)``.

>>> # solve = stored(lambda params, x: ..., "my_solve", repr(static_settings))
>>> # solve(params, x)   # exported and written once, loaded by later runs
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from typing import Callable, Optional

import jax
import numpy as np
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
  """``fn`` (a pure function of pytrees of arrays) as a jitted function whose programs are
  stored on disk per argument shapes (module docstring). ``key`` must name every setting ``fn``
  closes over; None (e.g. a user's problem, whose code is not hashed): plain ``jax.jit(fn)``."""
  jitted = jax.jit(fn)
  loaded = {}

  def call(*args):
    folder = _folder()
    if folder is None or key is None:
      return jitted(*args)
    leaves, tree = jax.tree.flatten(args)
    # a cheap signature of every call (jnp.result_type costs ~1 ms per call of a fine-tune)
    shapes = tuple((np.shape(x), getattr(x, "dtype", None) or type(x).__name__) for x in leaves)
    if (tree, shapes, folder) not in loaded:  # the hash once per shapes, not once per call
      digest = hashlib.sha256(
        repr((name, key, str(tree), shapes, jax.default_backend(), _source_hash())).encode()
      ).hexdigest()[:32]
      loaded[tree, shapes, folder] = _load_or_export(folder, f"{name}-{digest}", fn, tree, leaves)
    call_flat, out_tree = loaded[tree, shapes, folder]
    return jax.tree.unflatten(out_tree, call_flat(*leaves))

  return call


def problem_key(solver) -> Optional[str]:
  """The part of a stored program's key that names a model's problem: the built-in problem and
  initial condition, or None for a user's problem (its code is not part of the hash)."""
  from lrpinn_jax.pdes.registry import PRESETS

  info = solver.info
  name = info.get("pde", "convection")
  return repr((name, info.get("init_cond", "sin_1"))) if name in PRESETS else None


def _load_or_export(folder: str, stem: str, fn: Callable, tree, leaves):
  """(jitted call of the flat arguments returning the flat outputs, the outputs' tree): the
  stored program (<stem>.bin, its output tree pickled in <stem>.tree), or a new one written
  there."""
  path = os.path.join(folder, stem)
  try:
    with open(path + ".bin", "rb") as f:
      exp = export.deserialize(bytearray(f.read()))
    with open(path + ".tree", "rb") as f:
      out_tree = pickle.load(f)
    return jax.jit(exp.call), out_tree
  except Exception:  # missing, or unreadable (a partial or corrupted file): export it again
    pass
  trees = []

  def flat(*xs):
    leaves_out, out_tree = jax.tree.flatten(fn(*jax.tree.unflatten(tree, xs)))
    trees.append(out_tree)
    return leaves_out

  specs = [jax.ShapeDtypeStruct(jax.numpy.shape(x), jax.numpy.result_type(x)) for x in leaves]
  exp = export.export(jax.jit(flat))(*specs)
  try:
    os.makedirs(folder, exist_ok=True)
    for ext, data in ((".tree", pickle.dumps(trees[0])), (".bin", exp.serialize())):
      tmp = f"{path}{ext}.{os.getpid()}.tmp"
      with open(tmp, "wb") as out:
        out.write(data)
      os.replace(tmp, path + ext)  # atomic; the .bin last, as a reader looks for it first
  except (OSError, ImportError, pickle.PicklingError):
    pass  # a read-only cache, or no flatbuffers: the program is used, not kept
  return jax.jit(exp.call), trees[0]
