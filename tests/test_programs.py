"""Stored programs (lrpinn_jax.io.programs): a command run again loads its programs instead of
tracing them, and gets the values a plain jit gives."""

import os

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax.io import programs

# Tolerance for float32 outputs of O(1) of two different compiled programs (the exported module
# called through jax.export, and jax.jit of the function): XLA may fuse and reorder the sums
# differently, a few float32 ulps (1.2e-7) each; 1e-6 leaves a margin of ten.
TWO_PROGRAMS = {"rtol": 1e-6, "atol": 1e-6}


def test_a_program_is_written_once_then_loaded_without_tracing(tmp_path):
  traced = []

  def fn(params, x):
    traced.append(1)  # runs once per trace
    return {"y": jnp.tanh(params["w"] @ x) + params["b"], "n": (jnp.sum(x),)}

  params = {"w": jnp.arange(6.0).reshape(2, 3) / 6, "b": jnp.array([0.5, -0.5])}
  x = jnp.array([1.0, 2.0, 3.0])
  want = jax.jit(fn)(params, x)
  traced.clear()
  old = jax.config.jax_compilation_cache_dir
  jax.config.update("jax_compilation_cache_dir", str(tmp_path))
  try:
    first = programs.stored(fn, "test_fn", "settings")(params, x)
    assert len(traced) == 1 and len(os.listdir(tmp_path / programs.FOLDER)) == 2  # .bin, .tree
    again = programs.stored(fn, "test_fn", "settings")(params, x)  # as a new process would
    assert len(traced) == 1  # loaded from the file, fn not traced again
    other = programs.stored(fn, "test_fn", "other settings")(params, x[:2].repeat(2)[:3])
    assert len(traced) == 2 and len(os.listdir(tmp_path / programs.FOLDER)) == 4
  finally:
    jax.config.update("jax_compilation_cache_dir", old)
  for got in (first, again):
    np.testing.assert_allclose(got["y"], want["y"], **TWO_PROGRAMS)
    np.testing.assert_allclose(got["n"][0], 6.0, **TWO_PROGRAMS)
  np.testing.assert_allclose(other["n"][0], 4.0, **TWO_PROGRAMS)


def test_without_a_cache_folder_or_key_it_is_a_plain_jit(tmp_path):
  fn = lambda x: x * 2.0
  old = jax.config.jax_compilation_cache_dir
  jax.config.update("jax_compilation_cache_dir", str(tmp_path))
  try:
    assert float(programs.stored(fn, "no_key", None)(jnp.float32(1.5))) == 3.0
  finally:
    jax.config.update("jax_compilation_cache_dir", old)
  assert not (tmp_path / programs.FOLDER).exists()


def test_a_command_writes_its_wall_time_breakdown(tmp_path, monkeypatch):
  """experiments._cli.timed parts and the launcher's start time reach $LRPINN_JAX_TIMING: what
  benchmarks.startup reads. Parts measured by time.sleep: at least the time slept."""
  import json
  import time

  import pytest
  from absl import flags

  from experiments import _cli

  path = tmp_path / "timing.json"
  monkeypatch.setenv(_cli.TIMING_ENV, str(path))
  monkeypatch.setenv(_cli.LAUNCHED_ENV, repr(time.time() - 1.0))  # launched a second ago
  monkeypatch.setattr(_cli, "_PARTS", {})

  def main(argv):
    with _cli.timed("solve"):
      time.sleep(0.05)
    with _cli.timed("write"):
      time.sleep(0.02)

  flags.FLAGS.unparse_flags()
  with pytest.raises(SystemExit):
    _cli.run_main(main, ["cmd", "--compilation_cache="])
  out = json.loads(path.read_text())
  assert out["solve"] >= 0.05 and out["write"] >= 0.02
  assert out["main"] >= out["solve"] + out["write"] and out["start_to_main"] >= 1.0


def test_a_corrupted_stored_program_is_exported_again(tmp_path):
  fn = lambda x: x + 1.0
  old = jax.config.jax_compilation_cache_dir
  jax.config.update("jax_compilation_cache_dir", str(tmp_path))
  try:
    programs.stored(fn, "corrupt", "k")(jnp.float32(1.0))
    for name in os.listdir(tmp_path / programs.FOLDER):
      (tmp_path / programs.FOLDER / name).write_bytes(b"not a program")
    assert float(programs.stored(fn, "corrupt", "k")(jnp.float32(1.0))) == 2.0
  finally:
    jax.config.update("jax_compilation_cache_dir", old)
