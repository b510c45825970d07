"""Persistent XLA compilation cache: compiled programs are kept on disk and reused by later runs,
so a second run of a command skips most of its compilation time."""

from __future__ import annotations

import os
from typing import Optional

import jax

ENV_VAR = "LRPINN_JAX_CACHE"


def default_dir() -> str:
  """$LRPINN_JAX_CACHE if set (an empty value turns the cache off), else a per-user folder
  ($XDG_CACHE_HOME or ~/.cache)/lrpinn_jax/xla."""
  if ENV_VAR in os.environ:
    return os.environ[ENV_VAR]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "lrpinn_jax", "xla")


def enable(path: Optional[str] = None) -> Optional[str]:
  """Switches the persistent cache on in ``path`` (None: default_dir(); "": off). Call before the
  first compilation. Returns the folder in use, or None when off."""
  path = default_dir() if path is None else path
  if not path:
    return None
  os.makedirs(path, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", path)
  # Cache every program: Phase-2 and evaluation programs compile in well under JAX's default 1 s
  # threshold, and together they are most of a short command's start-up time.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return path
