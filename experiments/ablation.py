"""Phase-1 ablation for convection: the paper recipe, then one improvement added at a time.

  python -m experiments.ablation --phase1_steps=4000 --out=runs/ablation

Each row trains Phase 1 on beta = 30..40 from scratch with the same seed, budget and points, then
reports the zero-shot relative error at every integer beta in [30, 40] and the error after a short
Levenberg-Marquardt Phase 2 (adaptive rank). Writes <out>/ablation.json and <out>/ablation.md.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import flags

from lrpinn_jax.fit.experiment import ExperimentConfig, mu_grid, run, write_json_atomic

from . import _cli

flags.DEFINE_integer("phase1_steps", 4000, "Phase-1 steps per row", lower_bound=1)
flags.DEFINE_integer("phase2_steps", 200, "LM Phase-2 steps per target", lower_bound=0)
flags.DEFINE_string(
  "out", "runs/ablation", "output folder (rows' workdirs go to <out>/runs, not meant for git)"
)
flags.DEFINE_string("rows", "", "comma-separated subset of row names (default: all)")
flags.DEFINE_integer("seed", 0, "seed")
FLAGS = flags.FLAGS

# Cumulative: each row adds one change to the row before it.
ROWS = [
  ("paper", dict()),
  ("+normalize_mu", dict(normalize_mu=True)),
  ("+lr 1e-3 cosine", dict(lr=1e-3, lr_schedule="cosine")),
  ("+resample", dict(resample=True)),
  ("+causal eps=10", dict(causal_eps=10.0)),
  ("+periodic_x", dict(periodic=True)),
]


def main(argv):
  del argv
  betas = mu_grid([(30.0, 40.0), (0.0, 0.0), (0.0, 0.0)], [1.0, 1.0, 1.0])
  wanted = [r for r in FLAGS.rows.split(",") if r]
  out_json = os.path.join(FLAGS.out, "ablation.json")
  previous = {}
  if wanted and os.path.exists(out_json):  # keep rows run earlier with the same budget
    with open(out_json) as f:
      previous = {
        r["row"]: r for r in json.load(f)["rows"] if r["phase1_steps"] == FLAGS.phase1_steps
      }
  rows_out, overrides = [], {}
  for name, change in ROWS:
    overrides.update(change)
    if wanted and name not in wanted:
      if name in previous and previous[name]["flags"] == overrides:
        rows_out.append(previous[name])
      continue
    cfg = ExperimentConfig(
      workdir=os.path.join(FLAGS.out, "runs", name.strip("+").replace(" ", "_")),
      train_mu=tuple(map(tuple, betas.tolist())),
      targets=tuple(map(tuple, betas.tolist())),
      phase1_steps=FLAGS.phase1_steps,
      phase2_steps=FLAGS.phase2_steps,
      seed=FLAGS.seed,
      rank_mode="adaptive",
      phase2_optimizer="lm",
      log_every=1000,
      ckpt_every=FLAGS.phase1_steps,
      **overrides,
    )
    res = run(cfg, {"row": name})
    zs = [e["zero_shot"]["rel_err"] for e in res["results"]]
    p2 = [e["phase2"]["adaptive"]["rel_err"] for e in res["results"]]
    rows_out.append(
      {
        "row": name,
        "flags": dict(overrides),
        "phase1_steps": FLAGS.phase1_steps,
        "phase1_seconds": res["phase1"]["seconds"],
        "zero_shot_rel_err": zs,
        "phase2_rel_err": p2,
        "betas": betas[:, 0].tolist(),
      }
    )
    write_json_atomic(out_json, {"rows": rows_out})
  lines = [
    "| row | Phase-1 s | zero-shot rel err mean / max | after LM Phase 2 mean / max |",
    "|---|---|---|---|",
  ]
  for r in rows_out:
    lines.append(
      f"| {r['row']} | {r['phase1_seconds']:.0f} | {np.mean(r['zero_shot_rel_err']):.4f}"
      f" / {np.max(r['zero_shot_rel_err']):.4f} | {np.mean(r['phase2_rel_err']):.4f}"
      f" / {np.max(r['phase2_rel_err']):.4f} |"
    )
  with open(os.path.join(FLAGS.out, "ablation.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  _cli.run_main(main)
