"""Shared fixtures: the official reference files and a tiny configuration for fast tests."""

import atexit
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.io import cache as cache_lib
from lrpinn_jax.io import interop
from lrpinn_jax.nn.model import ModelConfig

# One compilation cache for the whole test run, shared by the tests' own programs, every command a
# test starts and every pytest-xdist worker (they inherit the variable from the process that made
# the folder, which removes it at exit): a program the suite compiles twice is compiled once. A
# fresh folder, so a run never depends on what earlier runs left in the user's cache.
_OWNER = "LRPINN_JAX_TEST_CACHE" not in os.environ
if _OWNER:
  os.environ["LRPINN_JAX_TEST_CACHE"] = tempfile.mkdtemp(prefix="lrpinn_jax_test_cache_")
  atexit.register(shutil.rmtree, os.environ["LRPINN_JAX_TEST_CACHE"], ignore_errors=True)
_CACHE = os.environ["LRPINN_JAX_TEST_CACHE"]
# The commands the tests start (end-to-end runs of a few tiny steps, whose checks are files,
# fields, counts and one-line errors) compile with XLA's optimisation passes off: those passes
# took longer than the runs they speed up, and compiling was most of the suite's time. The tests'
# own numerical checks run in this process (jax was imported above, so this variable does not
# reach it) and keep the optimised programs users run.
os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
os.environ[cache_lib.ENV_VAR] = _CACHE
cache_lib.enable(_CACHE)

# Tolerance for float32 outputs of O(1) computed by two different compiled programs (jit and
# eager, vmapped and per mu, merged and factored low-rank products): XLA may fuse, reorder or
# vectorise each width-50 dot product differently, each rounding a few ulps (float32 epsilon
# 1.2e-7) in each of the ~5 layers, so such outputs agree to about 1e-6, not bit for bit. 1e-5
# keeps a margin of 10 while any real change (another mu, layer or parameter) moves u by far more.
FLOAT32_TWO_PROGRAMS = {"rtol": 1e-5, "atol": 1e-6}

TINY_MODEL = ModelConfig(width=8, n_lowrank=2, rank=8, hyper_width=8, hyper_depth=2)
TINY_DATA = DataConfig(n_f=64, n_0=32, n_b=16, n_test=64)


def residual_at(pde, u, coords, mu, need_xx: bool = True):
  """The problem's PDE residual of the function u(*z) at points (coords: one (n,) array per
  coordinate, float32) for one mu, vmapped; need_xx=False drops the problem's drop_zero terms
  as a program whose mu all have them at 0 does."""
  dropped = frozenset(() if need_xx else pde.drop_zero)
  net = lambda z: jnp.atleast_1d(u(*(z[i] for i in range(len(coords)))))
  z = jnp.stack([jnp.asarray(c, jnp.float32) for c in coords], -1)
  mu = jnp.asarray(mu, jnp.float32)
  return jax.vmap(lambda zz: pde.pde_residual(net, zz, mu, dropped))(z)


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


def cli_cases(module: str, cases, folder) -> list:
  """Runs each argument list of ``cases`` through ``python -m <module>``'s entry point, all in one
  subprocess (tests/cli_cases.py); returns [{"code", "stderr"}, ...] in the order of ``cases``."""
  import json
  import subprocess
  import sys

  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  src, out = os.path.join(folder, "cases.json"), os.path.join(folder, "out.json")
  with open(src, "w") as f:
    json.dump([[str(a) for a in args] for args in cases], f)
  r = subprocess.run(
    [sys.executable, "-m", "tests.cli_cases", module, src, out],
    cwd=root,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-3000:]
  with open(out) as f:
    return json.load(f)


def assert_one_line_error(run: dict, message: str) -> None:
  """A failed command: non-zero exit, one line on stderr that contains ``message``, no traceback."""
  assert run["code"] != 0, run
  lines = run["stderr"].strip().splitlines()
  assert len(lines) == 1, run["stderr"]
  assert message in lines[0] and "Traceback" not in run["stderr"], run["stderr"]
