"""Hyper-LR-PINN on 1D convection: Phase 1 over a beta grid, zero-shot, Phase 2 per target.

  python -m experiments.convection --beta_range=30,40 [--targets=30,35,40] [--workdir=runs/conv]

This file is intentionally kept short: the logic lives in lrpinn_jax.experiment.
"""
from __future__ import annotations

from absl import flags

from experiments import _cli
from lrpinn_jax import derivatives, losses
from lrpinn_jax.experiment import ExperimentConfig, mu_grid, run

flags.DEFINE_string("beta_range", "30,40", "training beta range 'lo,hi' (inclusive)")
flags.DEFINE_float("beta_step", 1.0, "step of the training beta grid")
flags.DEFINE_string("targets", "30,35,40", "comma-separated target betas for zero-shot and Phase 2")
flags.DEFINE_integer("phase1_steps", 20000, "Phase-1 Adam steps", lower_bound=0)
flags.DEFINE_integer("phase2_steps", 10000, "Phase-2 Adam steps per target and rank mode",
                     lower_bound=0)
flags.DEFINE_float("lr", 2.5e-4, "Adam learning rate (Phase 1, and Phase 2 unless --phase2_lr)")
flags.DEFINE_float("phase2_lr", None, "Phase-2 learning rate (default: --lr)")
flags.DEFINE_integer("seed", 0, "seed for initialisation and all sampled points")
flags.DEFINE_string("workdir", "runs/convection", "output directory (checkpoints, results.json)")
flags.DEFINE_enum("rank_mode", "both", ["adaptive", "full", "both"], "Phase-2 rank mode(s)")
flags.DEFINE_bool("resume", False, "continue Phase 1 from the latest checkpoint in --workdir")
flags.DEFINE_integer("n_f", 1000, "collocation points", lower_bound=1)
flags.DEFINE_integer("n_0", 256, "initial-condition points", lower_bound=1)
flags.DEFINE_integer("n_b", 100, "periodic boundary pairs", lower_bound=1)
flags.DEFINE_integer("n_test", 1000, "test points per mu", lower_bound=1)
flags.DEFINE_integer("log_every", 500, "progress line every N steps", lower_bound=1)
flags.DEFINE_integer("ckpt_every", 2000, "Phase-1 checkpoint every N steps", lower_bound=1)
flags.DEFINE_enum("ortho", losses.DEFAULT_ORTHO, list(losses.ORTHO_FORMS),
                  "orthogonality penalty: paper (squared Frobenius) or official (unsquared / r^2)")
flags.DEFINE_enum("phase2_optimizer", "adam", ["adam", "lm"],
                  "Phase-2 optimizer: Adam (paper) or Levenberg-Marquardt")
flags.DEFINE_enum("deriv_mode", derivatives.DEFAULT_MODE, list(derivatives.MODES),
                  "PDE derivatives by forward (jvp) or reverse (grad) mode")
flags.DEFINE_bool("normalize_mu", False, "feed the hypernetwork mu scaled to [-1, 1] over the "
                  "training range (the official model feeds raw beta)")
flags.DEFINE_bool("periodic_x", False, "periodic input embedding (cos x, sin x, t): the periodic "
                  "boundary condition holds exactly")
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "cosine"],
                  "Phase-1 learning rate: constant (paper) or cosine decay to lr/100")
flags.DEFINE_float("causal_eps", 0.0, "causal residual weighting strength (0: off, paper)")
flags.DEFINE_bool("resample", False, "fresh collocation points every Phase-1 step (deterministic "
                  "from --seed and the step)")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  lo, hi = _cli.parse_range("beta_range", FLAGS.beta_range)
  step = _cli.positive("beta_step", FLAGS.beta_step)
  train_mu = mu_grid([(lo, hi), (0.0, 0.0), (0.0, 0.0)], [step, 1.0, 1.0])
  targets = [(b, 0.0, 0.0) for b in _cli.parse_floats("targets", FLAGS.targets)]
  cfg = ExperimentConfig(
      workdir=FLAGS.workdir, train_mu=tuple(map(tuple, train_mu.tolist())), targets=tuple(targets),
      phase1_steps=FLAGS.phase1_steps, phase2_steps=FLAGS.phase2_steps, lr=FLAGS.lr,
      phase2_lr=FLAGS.phase2_lr, seed=FLAGS.seed, rank_mode=FLAGS.rank_mode, resume=FLAGS.resume,
      n_f=FLAGS.n_f, n_0=FLAGS.n_0, n_b=FLAGS.n_b, n_test=FLAGS.n_test, log_every=FLAGS.log_every,
      ckpt_every=FLAGS.ckpt_every, ortho=FLAGS.ortho, phase2_optimizer=FLAGS.phase2_optimizer,
      deriv_mode=FLAGS.deriv_mode,
      normalize_mu=FLAGS.normalize_mu, periodic_x=FLAGS.periodic_x, lr_schedule=FLAGS.lr_schedule,
      causal_eps=FLAGS.causal_eps, resample=FLAGS.resample)
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
