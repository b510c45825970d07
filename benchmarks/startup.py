"""Where a one-query command's wall time goes, cold and warm.

  python -m benchmarks.startup [--repeats=3] [--out=FILE]

Runs experiments.inverse (one synthetic observation set, mu only + refinement),
experiments.finetune (100 LM steps) and a 10-mu experiments.many_query (100 plain LM steps each;
and lm_geodesic_pcg on 500 collocation points, 60 steps for a first chunk of 5 and 30 from the
nearest solved mu for the other 5, "many_query_10_pcg") on the
official checkpoint in a fresh compilation-cache folder: once "cold" (empty cache), then
--repeats times "warm" (the cache and stored programs the first run left; the run of median wall
time is reported, as start-up times on a shared machine vary by a second). Per run: the wall
time seen from here, "start_to_main" (the interpreter and imports), the command's own parts
("restore": the checkpoint; "solve": the solve with its programs' tracing, loading or
compilation; "write": JSON, checkpoint, figure) and "exit" (the rest: interpreter shutdown).
Prints one JSON object; benchmarks.speed --all includes it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from lrpinn_jax.io import interop

OFFICIAL = interop.official_path("phase1.npz")


def commands(folder: str) -> dict:
  """name -> argument list of each one-query command, writing under ``folder``."""
  return {
    "inverse": [
      "experiments.inverse",
      f"--checkpoint={OFFICIAL}",
      "--synthetic=35.2,0,0",
      f"--out={folder}/inverse",
    ],
    "finetune": [
      "experiments.finetune",
      f"--checkpoint={OFFICIAL}",
      "--mu=35.5,0,0",
      "--steps=100",
      f"--workdir={folder}/finetune",
    ],
    "many_query_10": [
      "experiments.many_query",
      f"--checkpoint={OFFICIAL}",
      "--beta_range=30,40",
      "--n_beta=10",
      "--steps=100",
      f"--out={folder}/many_query.json",
    ],
    "many_query_10_pcg": [
      "experiments.many_query",
      f"--checkpoint={OFFICIAL}",
      "--beta_range=30,40",
      "--n_beta=10",
      "--lm=lm_geodesic_pcg",
      "--steps=60",
      "--n_f=500",
      "--chunk=5",
      "--warm_steps=30",
      f"--out={folder}/many_query_pcg.json",
    ],
  }


def run_once(args, cache: str, folder: str) -> dict:
  """One command in a subprocess: its wall time and breakdown (experiments._cli.timed)."""
  timing = os.path.join(folder, "timing.json")
  env = {**os.environ, "LRPINN_JAX_CACHE": cache, "LRPINN_JAX_TIMING": timing}
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env["LRPINN_JAX_LAUNCHED"] = repr(time.time())
  t0 = time.perf_counter()
  r = subprocess.run(
    [sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True
  )
  wall = time.perf_counter() - t0
  if r.returncode != 0:
    raise RuntimeError(f"{args[0]} failed: {r.stderr[-2000:]}")
  with open(timing) as f:
    parts = json.load(f)
  out = {"wall": wall, **{k: v for k, v in parts.items() if k != "main"}}
  out["exit"] = wall - parts.get("start_to_main", 0.0) - parts["main"]
  return {k: round(v, 2) for k, v in out.items()}


def breakdown(repeats: int = 1) -> dict:
  """{command: {"cold": parts, "warm": parts}} (module docstring); with repeats > 1 the warm
  run is repeated and "warm" is the run of median wall time ("warm_walls": every wall time)."""
  out = {}
  for name in commands(""):
    with tempfile.TemporaryDirectory() as tmp:
      args, cache = commands(tmp)[name], os.path.join(tmp, "cache")
      cold = run_once(args, cache, tmp)
      warm = []
      for _ in range(repeats):
        shutil.rmtree(os.path.join(tmp, "finetune"), ignore_errors=True)  # a new --workdir
        warm.append(run_once(args, cache, tmp))
      warm.sort(key=lambda r: r["wall"])
      out[name] = {"cold": cold, "warm": warm[len(warm) // 2]}
      if repeats > 1:
        out[name]["warm_walls"] = [r["wall"] for r in warm]
  return out


def report(out: dict, path=None) -> None:
  """A benchmark's result: printed as one JSON line, and written to ``path`` if given."""
  print(json.dumps(out))
  if path:
    with open(path, "w") as f:
      json.dump(out, f, indent=1)


def main(argv):
  del argv
  report(breakdown(flags.FLAGS.repeats), flags.FLAGS.out)


if __name__ == "__main__":
  # defined here, not on import: benchmarks.speed imports this module and has its own --out
  flags.DEFINE_string("out", None, "also write the JSON object to this file")
  flags.DEFINE_integer(
    "repeats", 3, "warm runs per command (the median is reported)", lower_bound=1
  )
  app.run(main)
