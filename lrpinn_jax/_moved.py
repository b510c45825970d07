"""Old module paths (before the package was split into problem/, pdes/, nn/, fit/, query/,
io/, baselines/) keep importing: ``import lrpinn_jax.model`` gives lrpinn_jax.nn.model with a
one-line DeprecationWarning that names the new path."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
  "layers": "nn.layers",
  "model": "nn.model",
  "solver": "query.solver",
  "many_query": "query.many_query",
  "inverse": "query.inverse",
  "uq": "query.uq",
  "design": "query.design",
  "losses": "fit.losses",
  "phase1": "fit.phase1",
  "phase2": "fit.phase2",
  "lm": "fit.lm",
  "soap": "fit.soap",
  "train": "fit.train",
  "sharding": "fit.sharding",
  "data": "fit.data",
  "experiment": "fit.experiment",
  "finetune": "fit.finetune",
  "recipes": "fit.recipes",
  "checkpoint": "io.checkpoint",
  "interop": "io.interop",
  "cache": "io.cache",
  "pde": "pdes.registry",
  "reference": "pdes.reference",
  "mu_sets": "pdes.mu_sets",
  "compare": "baselines.compare",
}


def new_path(old: str) -> str:
  return "lrpinn_jax." + MOVED[old]


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Resolves lrpinn_jax.<old> to the module at its new path (the same module object)."""

  def find_spec(self, name, path=None, target=None):
    head, _, tail = name.partition(".")
    if head == "lrpinn_jax" and tail in MOVED:
      return importlib.util.spec_from_loader(name, self)
    return None

  def create_module(self, spec):
    old = spec.name.partition(".")[2]
    warnings.warn(f"{spec.name} moved to {new_path(old)}", DeprecationWarning, stacklevel=2)
    return importlib.import_module(new_path(old))

  def exec_module(self, module):
    pass


def install() -> None:
  if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.append(_Finder())
