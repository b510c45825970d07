"""Flags shared by every experiment command (convection, cdr, helmholtz): one definition each.

A command imports this module, calls ``flags.adopt_module_key_flags(_flags)`` so that the shared
flags are listed in its --help and recorded in results.json, and builds its ExperimentConfig with
``experiment_kwargs()``.
"""
from __future__ import annotations

from absl import flags

from lrpinn_jax import derivatives, losses

flags.DEFINE_integer("phase1_steps", 20000, "Phase-1 Adam steps", lower_bound=0)
flags.DEFINE_integer("phase2_steps", 10000, "Phase-2 steps per target and rank mode",
                     lower_bound=0)
flags.DEFINE_float("lr", 2.5e-4, "Adam learning rate (Phase 1, and Phase 2 unless --phase2_lr)")
flags.DEFINE_float("phase2_lr", None, "Phase-2 learning rate (default: --lr)")
flags.DEFINE_integer("seed", 0, "seed for initialisation and all sampled points")
flags.DEFINE_enum("rank_mode", "both", ["adaptive", "full", "both"], "Phase-2 rank mode(s)")
flags.DEFINE_bool("resume", False, "continue Phase 1 from the latest checkpoint in --workdir")
flags.DEFINE_integer("n_f", 1000, "collocation points", lower_bound=1)
flags.DEFINE_integer("n_0", 256, "initial-condition points", lower_bound=1)
flags.DEFINE_integer("n_b", 100, "periodic boundary pairs (CDR) or Dirichlet points per side",
                     lower_bound=1)
flags.DEFINE_integer("n_test", 1000, "test points per mu", lower_bound=1)
flags.DEFINE_integer("log_every", 500, "progress line every N steps", lower_bound=1)
flags.DEFINE_integer("ckpt_every", 2000, "Phase-1 checkpoint every N steps", lower_bound=1)
flags.DEFINE_enum("ortho", losses.DEFAULT_ORTHO, list(losses.ORTHO_FORMS),
                  "orthogonality penalty: paper (squared Frobenius) or official (unsquared / r^2)")
flags.DEFINE_enum("phase2_optimizer", "adam", ["adam", "lm", "lm_geodesic"],
                  "Phase-2 optimizer: Adam (paper), Levenberg-Marquardt, or LM with geodesic "
                  "acceleration")
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
flags.DEFINE_integer("mu_batch", 0, "training mu per Phase-1 step, drawn at random without "
                     "replacement (0: all of them every step)", lower_bound=0)
flags.DEFINE_float("mu_batch_from", 0.0, "--mu_batch applies from this fraction of the Phase-1 "
                   "steps on (before: every training mu each step)")
flags.DEFINE_bool("hard_ic", False, "exact initial condition: u = u0(x) + t N(x, t) (CDR family)")
flags.DEFINE_float("sine_start", 0.0, "first layer sin(omega (W0 z + b0)) with this omega "
                   "instead of tanh (0: tanh, paper); helps oscillatory solutions (Helmholtz)")
flags.DEFINE_float("s_init", 0.0, "> 0: hypernetwork heads start with zero kernels and this bias, "
                   "so s(mu) = s_init for every mu at initialisation (0: default init, paper)")
flags.DEFINE_string("loss_weights", "", "Phase-1 weights of loss terms, e.g. 'bc=10' (terms: "
                    "f, ic, bc, ortho, bc_x with diffusion; unnamed ones weigh 1, paper)")
flags.DEFINE_float("loss_weights_from", 0.0, "--loss_weights apply from this fraction of the "
                   "Phase-1 steps on (before: all weights 1), e.g. 0.5 for the second half")
flags.DEFINE_float("curriculum", 0.0, "curriculum over mu: the included part of the training range "
                   "grows from its low end to all of it over this fraction of Phase-1 steps (0: off)")
flags.DEFINE_bool("phase2_batched", False, "with --phase2_optimizer=lm: Phase 2 for all targets "
                  "in one jit-compiled call vmapped over mu (seconds are then per batch)")

FLAGS = flags.FLAGS

_SHARED = ("phase1_steps", "phase2_steps", "lr", "phase2_lr", "seed", "rank_mode", "resume",
           "n_f", "n_0", "n_b", "n_test", "log_every", "ckpt_every", "ortho", "phase2_optimizer",
           "deriv_mode", "normalize_mu", "periodic_x", "lr_schedule", "causal_eps", "resample",
           "mu_batch", "phase2_batched", "hard_ic", "sine_start", "loss_weights", "curriculum",
           "loss_weights_from", "mu_batch_from", "s_init")


def experiment_kwargs() -> dict:
  """ExperimentConfig keyword arguments from the shared flags."""
  return {name: getattr(FLAGS, name) for name in _SHARED}
