"""mu split across devices and processes: the one-device numbers, really split, padded.

The device count of a JAX process is fixed at start, so each check runs tests/sharded_check.py
in a subprocess with forced host devices (XLA_FLAGS=--xla_force_host_platform_device_count).
The optimizer is Adam: SOAP's eigenbases amplify rounding differences (BUILD_NOTES.md).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(out, mode, *args, devices=4):
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
  return subprocess.Popen(
    [sys.executable, "-m", "tests.sharded_check", mode, str(out), *args],
    cwd=ROOT,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
  )


def _wait(proc):
  out, _ = proc.communicate(timeout=240)
  assert proc.returncode == 0, out[-3000:]


# Sharded and one-device float32 steps are two compiled programs: their gradients differ by
# rounding (about 1e-6 relative), and Adam's normalised update m / sqrt(v) turns the rounding of
# near-zero gradient entries into differences of a few 1e-5 of a leaf's scale after 20 steps
# (measured up to 1.4e-5). A split that dropped or double-counted one of the 11 mu changes the
# mean gradient by about 9% in every step, far beyond 1e-4.
SHARDED_RTOL = 1e-4


def _rel(a, b):
  return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def test_20_sharded_steps_equal_one_device_with_11_mu_on_4_devices(tmp_path):
  out = tmp_path / "sharded.npz"
  _wait(_check(out, "phase1", "--n_mu=11", "--steps=20"))
  d = np.load(out)
  info = json.loads(str(d["info"]))
  assert info["devices"] == 4 and info["mus_spec"] == "P('mu',)"
  assert info["mus_shape"] == [12, 3] and info["mus_shard_rows"] == [3]  # 3 mu per device
  assert info["weights"] == [1.0] * 11 + [0.0]  # one weight-0 pad, nothing dropped
  keys = [k[len("sharded") :] for k in d.files if k.startswith("sharded")]
  assert len(keys) > 10
  for k in keys:
    assert _rel(d["sharded" + k], d["single" + k]) < SHARDED_RTOL, k


@pytest.mark.commands
def test_two_processes_of_two_devices_match_one_process_of_four(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  common = ["--n_mu=11", "--steps=10", "--num_processes=2", f"--port={port}"]
  procs = [
    _check(tmp_path / "multi.npz", "multihost", *common, f"--process_id={i}", devices=2)
    for i in range(2)
  ]
  for p in procs:
    _wait(p)
  _wait(_check(tmp_path / "one.npz", "phase1", "--n_mu=11", "--steps=10"))
  multi, one = np.load(tmp_path / "multi.npz"), np.load(tmp_path / "one.npz")
  info = json.loads(str(multi["info"]))
  assert info["processes"] == 2 and info["devices"] == 4 and info["mus_shard_rows"] == [3]
  for k in (k for k in one.files if k.startswith("sharded")):
    assert _rel(multi[k], one[k]) < SHARDED_RTOL, k


def test_chunked_many_query_split_over_2_devices_equals_one_call(tmp_path):
  """5 betas in chunks of 3 (the last padded) split over 2 devices, in float64 (where rounding
  cannot steer LM's accept / reject decisions apart): the rank masks, losses and fitted u of one
  unchunked call on one device."""
  out = tmp_path / "many.npz"
  _wait(_check(out, "many", "--n_mu=5", devices=2))
  d = np.load(out)
  assert d["split_loss"].shape == (5,) and d["split_u"].dtype == np.float64
  np.testing.assert_array_equal(d["split_mask0"], d["one_mask0"])
  np.testing.assert_allclose(d["split_loss"], d["one_loss"], rtol=1e-8)
  np.testing.assert_allclose(d["split_u"], d["one_u"], atol=1e-10)
