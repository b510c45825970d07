"""The wheel works outside the source tree: built from the repository, installed into a fresh
virtual environment (its dependencies seen through a path entry to this environment's
site-packages, not installed again), and used from a folder away from the repository: the
library, its official checkpoints, a copied results folder, the Problem API, the list of
commands, and commands run through the ``lrpinn-jax`` console script."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

pytestmark = pytest.mark.docs  # run by .ci/run after the suite: python -m pytest -m docs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = r"""
import json, os, sys
import numpy as np
import lrpinn_jax
from lrpinn_jax.io import interop
from lrpinn_jax.problem import Dirichlet, Problem
out = {"file": lrpinn_jax.__file__, "version": lrpinn_jax.__version__}
try:
  import experiments  # noqa: F401
  out["experiments"] = True
except ImportError:
  out["experiments"] = False
from lrpinn_jax.__main__ import commands
out["commands"] = commands()
official = interop.load_official(interop.official_path("phase1.npz"))
out["official"] = float(official(np.array([1.0]), np.array([0.5]), np.array([35.0, 0, 0]))[0])
solver = lrpinn_jax.load("model")
out["copied"] = float(solver(np.array([1.0]), np.array([0.5]), np.array([35.0, 0, 0]))[0])
problem = Problem(name="heat", coords={"x": (0.0, 1.0), "t": (0.0, 1.0)}, time="t", fields=("u",),
                  params={"k": (1.0, 2.0)},
                  residual=lambda u, z, mu: u.d("u", "t") - mu["k"] * u.d2("u", "x"),
                  conditions=(Dirichlet("u", lambda z, mu: 0.0, on="x"),))
out["problem"] = problem.mu_dim
print(json.dumps(out))
"""


def test_wheel_installs_and_runs_away_from_the_source_tree(tmp_path):
  dist = tmp_path / "dist"
  subprocess.run(
    [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
     str(dist), ROOT],
    check=True, capture_output=True, cwd=tmp_path,
  )  # fmt: skip
  (wheel,) = dist.glob("*.whl")
  names = zipfile.ZipFile(wheel).namelist()
  tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
  assert tops == {"lrpinn_jax"}  # no generic top-level package (experiments, benchmarks, tests)
  assert "lrpinn_jax/official/phase1.npz" in names and "lrpinn_jax/commands/train.py" in names
  for name in names:  # the commands import each other relatively, never as experiments.*
    if name.endswith(".py"):
      text = zipfile.ZipFile(wheel).read(name).decode()
      assert "from experiments" not in text and "import experiments" not in text, name

  venv = tmp_path / "venv"
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
  python = venv / "bin" / "python"
  subprocess.run(
    [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
     "--no-index", str(wheel)],
    check=True, capture_output=True,
  )  # fmt: skip
  site = subprocess.run(
    [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
    check=True, capture_output=True, text=True,
  ).stdout.strip()  # fmt: skip
  # The dependencies (jax, flax, ...) from this environment: a plain path entry, so the .pth files
  # there (this checkout's editable install) are not run and the wheel's lrpinn_jax is the one seen.
  with open(os.path.join(site, "_deps.pth"), "w") as f:
    f.write(sysconfig.get_paths()["purelib"] + "\n")

  work = tmp_path / "elsewhere"
  shutil.copytree(os.path.join(ROOT, "results", "convection_30_40", "checkpoints"),
                  work / "model" / "checkpoints")  # fmt: skip
  shutil.copy(os.path.join(ROOT, "results", "convection_30_40", "model.json"), work / "model")
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  run = lambda args: subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)

  checked = run([str(python), "-c", CHECK])
  assert checked.returncode == 0, checked.stderr[-2000:]
  out = json.loads(checked.stdout.strip().splitlines()[-1])
  assert out["file"].startswith(str(venv))
  assert not out["experiments"]
  assert {"convection", "finetune", "inverse", "many_query", "train"} <= set(out["commands"])
  assert out["problem"] == 1
  # The copied model and the official one answer as in the source tree (the same compiled
  # program on the same machine, with the same parameters: equal up to float32 rounding of a
  # possibly different XLA build order, 1e-5 relative).
  import numpy as np

  import lrpinn_jax
  from lrpinn_jax.io import interop

  here = lrpinn_jax.load(os.path.join(ROOT, "results", "convection_30_40"))
  x, t, mu = np.array([1.0]), np.array([0.5]), np.array([35.0, 0, 0])
  np.testing.assert_allclose(out["copied"], float(here(x, t, mu)[0]), rtol=1e-5, atol=1e-6)
  official = interop.load_official(interop.official_path("phase1.npz"))
  np.testing.assert_allclose(out["official"], float(official(x, t, mu)[0]), rtol=1e-5, atol=1e-6)

  script = venv / "bin" / "lrpinn-jax"
  listed = run([str(script)])
  assert listed.returncode == 2 and "finetune" in listed.stdout
  tuned = run([str(script), "finetune", "--checkpoint=model", "--mu=35,0,0", "--optimizer=lm",
               "--steps=2", "--workdir=ft"])  # fmt: skip
  assert tuned.returncode == 0, tuned.stderr[-2000:]
  assert json.load(open(work / "ft" / "finetune.json"))["mu"] == [35.0, 0.0, 0.0]
  helped = run([str(script), "convection", "--help"])  # the shared flags (commands/_flags.py)
  assert (
    helped.returncode == 0 and "--beta_range" in helped.stdout and "--rank_tol" in helped.stdout
  )
  bad = run([str(script), "nonsense"])
  assert bad.returncode == 2 and bad.stderr.count("\n") == 1
