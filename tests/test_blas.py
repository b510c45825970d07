"""lrpinn_jax._blas: one OpenBLAS thread unless the user chose a number."""

import os
import subprocess
import sys

import pytest

SHOW = "import os, lrpinn_jax; print(os.environ['OPENBLAS_NUM_THREADS'])"


@pytest.mark.parametrize("given, expected", [(None, "1"), ("3", "3")])
def test_openblas_threads_default_and_override(given, expected):
  env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
  if given is not None:
    env["OPENBLAS_NUM_THREADS"] = given
  out = subprocess.run(
    [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
  )
  assert out.stdout.strip() == expected
