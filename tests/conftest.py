"""Shared fixtures: the official reference files and a tiny configuration for fast tests."""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

from lrpinn_jax import cache as cache_lib
from lrpinn_jax import interop
from lrpinn_jax.data import DataConfig
from lrpinn_jax.model import ModelConfig

# Every command a test starts uses one compilation cache for the whole test run (a fresh folder, so
# a run never depends on what earlier runs left in the user's cache): CLI tests that compile the
# same tiny programs compile them once.
_CACHE = tempfile.mkdtemp(prefix="lrpinn_jax_test_cache_")
os.environ[cache_lib.ENV_VAR] = _CACHE
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

TINY_MODEL = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8, hyper_depth=2)
TINY_DATA = DataConfig(n_f=64, n_0=32, n_b=16, n_test=64)


def ref_path(name: str) -> str:
  """A file of the authors' checkpoints shipped with the package (never skipped: it must exist)."""
  path = interop.official_path(name)
  assert os.path.exists(path), f"{path} is missing from the package"
  return path


@pytest.fixture
def official_phase1():
  return interop.load_official(ref_path("phase1.npz"))


@pytest.fixture
def rng():
  return np.random.default_rng(0)
