"""Phase 2 for one mu from any Phase-1 checkpoint (an experiment workdir or the official .npz).

  python -m experiments.finetune --checkpoint=<workdir or .npz> --mu=40,0,0 --optimizer=lm \
      --max_seconds=60 --workdir=DIR

Writes DIR/finetune.json (trajectory and final errors) and the fine-tuned model (DIR/model.json
and DIR/phase2.npz), which `lrpinn_jax.load(DIR)` returns as a Solver.
"""

from __future__ import annotations

from absl import flags

from lrpinn_jax.fit import finetune
from lrpinn_jax.fit.data import DataConfig
from lrpinn_jax.fit.train import PHASE2_OPTIMIZERS

from . import _cli

flags.DEFINE_string(
  "checkpoint", None, "Phase-1 experiment workdir or official .npz", required=True
)
flags.DEFINE_string("mu", "40,0,0", "target mu: beta,nu,rho (CDR family) or a1,a2 (Helmholtz)")
flags.DEFINE_enum(
  "optimizer",
  "lm",
  list(PHASE2_OPTIMIZERS),
  "Levenberg-Marquardt (plain, with geodesic acceleration, or with both and refined steps: "
  "lm_geodesic_pcg) or Adam",
)
flags.DEFINE_integer("steps", 10000, "maximum Phase-2 steps", lower_bound=0)
flags.DEFINE_float("max_seconds", 60.0, "stop after this many seconds of training (0: no limit)")
flags.DEFINE_float("tol", 0.0, "stop when the loss falls below this")
flags.DEFINE_float("lr", 2.5e-4, "Adam learning rate")
flags.DEFINE_enum("rank_mode", "adaptive", ["adaptive", "full"], "Phase-2 rank mode")
flags.DEFINE_string("workdir", None, "output directory", required=True)
flags.DEFINE_integer("seed", 0, "seed of the training and test points")
flags.DEFINE_integer("n_f", 1000, "collocation points", lower_bound=1)
flags.DEFINE_integer("n_0", 256, "initial-condition points", lower_bound=1)
flags.DEFINE_integer(
  "n_b", 100, "periodic boundary pairs (CDR) or Dirichlet points per side", lower_bound=1
)
flags.DEFINE_integer("n_test", 1000, "test points", lower_bound=1)
flags.DEFINE_integer(
  "eval_every", 1, "test errors into the trajectory every N steps (0: end only)", lower_bound=0
)
flags.DEFINE_integer("log_every", 100, "progress line every N steps", lower_bound=1)
flags.DEFINE_string(
  "deriv_mode",
  "jvp",
  "PDE derivatives: forward mode (jvp), the only mode "
  "(reverse mode, grad, was removed: it measured slower)",
)
FLAGS = flags.FLAGS


def main(argv):
  del argv
  mu = _cli.parse_floats("mu", FLAGS.mu)  # its length is checked against the checkpoint's PDE
  max_seconds = FLAGS.max_seconds
  if max_seconds != 0:
    _cli.positive("max_seconds", max_seconds)
  finetune.run(
    FLAGS.checkpoint,
    mu,
    FLAGS.workdir,
    optimizer=FLAGS.optimizer,
    steps=FLAGS.steps,
    max_seconds=max_seconds or None,
    lr=_cli.positive("lr", FLAGS.lr),
    rank_mode=FLAGS.rank_mode,
    data=DataConfig(FLAGS.n_f, FLAGS.n_0, FLAGS.n_b, FLAGS.n_test),
    seed=FLAGS.seed,
    eval_every=FLAGS.eval_every,
    tol=FLAGS.tol,
    deriv_mode=FLAGS.deriv_mode,
    log_every=FLAGS.log_every,
    timed=_cli.timed,
  )


if __name__ == "__main__":
  _cli.run_main(main)
