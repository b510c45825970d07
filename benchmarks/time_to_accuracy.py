"""Time to accuracy of the main command: the default convection job, timed, and its model's
many-query study.

  python -m benchmarks.time_to_accuracy --seed=S [--workdir=runs/tta_seedS] [--out=FILE]

Runs exactly what `python -m experiments.convection --beta_range=30,40 --seed=S` runs (recipe
"best", default targets, both rank modes), then `experiments.many_query` over 150 beta in [20, 50]
with 100 batched LM steps, and prints (and writes to --out) one JSON object:
{"seed", "recipe", "phase1_seconds", "total_seconds" (the whole main command: Phase 1,
zero-shot, Phase 2, results.json), "seconds_to": {"0.10", "0.05"} (training seconds at which the
zero-shot max over the training betas first fell below each, from the Phase-1 history; evaluation
time is not on that clock; null if never), "zero_shot_max", "zero_shot_mean" (over the training
betas, end of Phase 1), "zero_shot_max_offgrid" (beta 30.5, 33.3, 36.7, 39.5), "phase2_max"
(worst LM Phase 2 over the targets, both modes), "many_query_worst_25_45", "many_query_seconds"}.
"""

from __future__ import annotations

import json
import os

from absl import flags

from benchmarks import _tta as tta
from experiments import _cli
from lrpinn_jax.fit.experiment import write_json_atomic

_SEED = flags.DEFINE_integer("seed", 0, "seed of the main command", lower_bound=0)
_WORKDIR = flags.DEFINE_string(
  "workdir",
  None,
  "workdir of the main command (default: runs/tta_seed<S>; must not hold checkpoints)",
)
_OUT = flags.DEFINE_string("out", None, "also write the JSON object here")
_MQ_STEPS = flags.DEFINE_integer(
  "many_query_steps", 100, "LM steps of the many-query study", lower_bound=0
)
_STEPS = flags.DEFINE_integer(
  "phase1_steps",
  None,
  "override the recipe's Phase-1 steps (for a "
  "quick check of the command; the benchmark uses the recipe's)",
  lower_bound=1,
)


def main(argv):
  del argv
  seed = _SEED.value
  workdir = _WORKDIR.value or f"runs/tta_seed{seed}"
  out, study = tta.measure(seed, workdir, _STEPS.value, _MQ_STEPS.value)
  print(json.dumps(out, indent=1))
  write_json_atomic(os.path.join(workdir, "time_to_accuracy.json"), out)
  write_json_atomic(os.path.join(workdir, "many_query.json"), study)
  if _OUT.value:
    write_json_atomic(_OUT.value, out)


if __name__ == "__main__":
  _cli.run_main(main)
