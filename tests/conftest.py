"""Shared fixtures: the official reference files and a tiny configuration for fast tests."""
import os

import numpy as np
import pytest

from lrpinn_jax.data import DataConfig
from lrpinn_jax.model import ModelConfig

REF_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference",
                       "official_convection_30_40")

TINY_MODEL = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8, hyper_depth=2)
TINY_DATA = DataConfig(n_f=64, n_0=32, n_b=16, n_test=64)


def ref_path(name: str) -> str:
  path = os.path.join(REF_DIR, name)
  if not os.path.exists(path):
    pytest.skip(f"reference file {path} not available")
  return path


@pytest.fixture
def official_phase1():
  from lrpinn_jax import interop
  return interop.load_official(ref_path("phase1.npz"))


@pytest.fixture
def rng():
  return np.random.default_rng(0)
