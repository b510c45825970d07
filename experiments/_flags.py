"""Flags shared by every experiment command (convection, cdr, helmholtz): one definition each.

A command imports this module, calls ``flags.adopt_module_key_flags(_flags)`` so that the shared
flags are listed in its --help and recorded in results.json, and builds its ExperimentConfig with
``experiment_kwargs(problem, n_train)``. Flags of recipe settings (lrpinn_jax.fit.recipes.SETTINGS)
default to None: unset, they take the value of --recipe; set, they override it.
"""

from __future__ import annotations

import sys

from absl import flags

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import losses, phase1, recipes
from lrpinn_jax.fit.train import PHASE2_OPTIMIZERS

_R = " (default: from --recipe)"

flags.DEFINE_enum(
  "recipe",
  "best",
  list(recipes.RECIPES),
  "best: the best measured settings for this problem; paper: the paper's recipe "
  "(raw mu, Adam 2.5e-4 constant, 20,000 + 10,000 Adam steps). Flags override it.",
)
flags.DEFINE_integer("seed", 0, "seed for initialisation and all sampled points", lower_bound=0)
flags.DEFINE_enum("rank_mode", "both", ["adaptive", "full", "both"], "Phase-2 rank mode(s)")
flags.DEFINE_bool("resume", False, "continue Phase 1 from the latest checkpoint in --workdir")
# Recipe settings.
flags.DEFINE_integer("phase1_steps", None, "Phase-1 optimizer steps" + _R, lower_bound=0)
flags.DEFINE_integer(
  "phase2_steps", None, "Phase-2 steps per target and rank mode" + _R, lower_bound=0
)
flags.DEFINE_float(
  "lr", None, "Adam learning rate (Phase 1, and Adam Phase 2 unless --phase2_lr)" + _R
)
flags.DEFINE_float("phase2_lr", None, "Adam Phase-2 learning rate (default: --lr)")
flags.DEFINE_enum(
  "optimizer",
  None,
  ["adam", "soap"],
  "Phase-1 optimizer: Adam or SOAP (Adam in Shampoo's eigenbasis)" + _R,
)
flags.DEFINE_enum(
  "lr_schedule",
  None,
  ["constant", "cosine"],
  "Phase-1 learning rate: constant or cosine decay to lr/100" + _R,
)
flags.DEFINE_bool(
  "normalize_mu", None, "feed the hypernetwork mu scaled to [-1, 1] over the training range" + _R
)
flags.DEFINE_bool(
  "resample",
  None,
  "fresh collocation points every Phase-1 step (deterministic from --seed and the step)" + _R,
)
flags.DEFINE_integer(
  "mu_batch",
  None,
  "training mu per Phase-1 step, drawn at random without "
  "replacement (0: all of them every step)" + _R,
  lower_bound=0,
)
flags.DEFINE_enum(
  "mu_sampling",
  None,
  list(phase1.MU_SAMPLINGS),
  "--mu_batch draws: every mu "
  "alike, or every sub-family (mu with the same nonzero coefficients) alike" + _R,
)
flags.DEFINE_float(
  "s_init",
  None,
  "> 0: hypernetwork heads start with zero kernels and this "
  "bias, so s(mu) = s_init for every mu at initialisation (0: default init)" + _R,
)
flags.DEFINE_bool(
  "periodic",
  None,
  "periodic input embedding: the network sees each coordinate "
  "with a Periodic condition through its cos and sin (CDR: cos x, sin x, t), so "
  "the condition holds exactly" + _R,
)
flags.DEFINE_bool("periodic_x", None, "former name of --periodic")
flags.DEFINE_bool(
  "hard_ic",
  None,
  "exact initial condition from the problem's Initial: u = u0(z; mu) + (t - t0) N(z)" + _R,
)
flags.DEFINE_float("causal_eps", None, "causal residual weighting strength (0: off)" + _R)
flags.DEFINE_float(
  "sine_start",
  None,
  "first layer sin(omega (W0 z + b0)) with this omega instead of tanh (0: tanh)" + _R,
)
flags.DEFINE_float("t_scale", None, "the network sees t_scale * t instead of t" + _R)
flags.DEFINE_enum(
  "phase2_optimizer",
  None,
  list(PHASE2_OPTIMIZERS),
  "Phase-2 optimizer: Adam, Levenberg-Marquardt, or LM with geodesic acceleration (and "
  "refined steps: lm_geodesic_pcg)" + _R,
)
flags.DEFINE_bool(
  "phase2_batched",
  None,
  "LM Phase 2 for all targets in one jit-compiled call "
  "vmapped over mu (seconds are then per batch)" + _R,
)
flags.DEFINE_integer("n_f", None, "collocation points per step" + _R, lower_bound=1)
flags.DEFINE_integer(
  "phase2_n_f",
  None,
  "Phase-2 collocation points, drawn once (default: from --recipe; unset there: --n_f)",
  lower_bound=1,
)
# Advanced.
flags.DEFINE_integer("n_0", 256, "initial-condition points", lower_bound=1)
flags.DEFINE_integer(
  "n_b", 100, "periodic boundary pairs (CDR) or Dirichlet points per side", lower_bound=1
)
flags.DEFINE_integer("n_test", 1000, "test points per mu", lower_bound=1)
flags.DEFINE_integer("log_every", 500, "progress line every N steps", lower_bound=1)
flags.DEFINE_integer("ckpt_every", 2000, "Phase-1 checkpoint every N steps", lower_bound=1)
flags.DEFINE_enum(
  "ortho",
  losses.DEFAULT_ORTHO,
  list(losses.ORTHO_FORMS),
  "orthogonality penalty: paper (squared Frobenius) or official (unsquared / r^2)",
)
flags.DEFINE_string(
  "deriv_mode",
  "jvp",
  "PDE derivatives: forward mode (jvp), the only mode "
  "(reverse mode, grad, was removed: it measured slower)",
)
flags.DEFINE_string(
  "loss_weights",
  "",
  "Phase-1 weights of loss terms, e.g. 'bc=10' (terms: "
  "f, ic, bc, ortho, bc_x with diffusion; unnamed ones weigh 1)",
)
flags.DEFINE_integer(
  "s_l1_steps",
  0,
  "with --loss_weights=s_l1=W: the rank pressure acts on Phase-1 steps below this "
  "only, the rest train for accuracy alone (0: every step)",
  lower_bound=0,
)
flags.DEFINE_float(
  "rank_tol",
  0.0,
  "drop the smallest entries of each s_l(mu) while their "
  "share of ||s_l||^2 stays <= rank_tol^2 (0: keep every nonzero entry); e.g. "
  "3e-3 with --loss_weights=s_l1=5e-5 --s_l1_steps=12000 (results/rank_pressure)",
  lower_bound=0.0,
)

# Devices and processes.
flags.DEFINE_integer(
  "devices",
  0,
  "split Phase 1 over mu across this many devices (0: all that "
  "JAX sees; with several processes, all of them)",
  lower_bound=0,
)
flags.DEFINE_bool(
  "distributed",
  False,
  "join a multi-process run via jax.distributed with the "
  "cluster's own settings (SLURM, Open MPI); implied by --coordinator",
)
flags.DEFINE_string("coordinator", None, "jax.distributed coordinator 'host:port' (process 0's)")
flags.DEFINE_integer("num_processes", None, "jax.distributed: number of processes", lower_bound=1)
flags.DEFINE_integer("process_id", None, "jax.distributed: this process's id", lower_bound=0)

FLAGS = flags.FLAGS

_OTHER = (
  "seed",
  "rank_mode",
  "resume",
  "n_0",
  "n_b",
  "n_test",
  "log_every",
  "ckpt_every",
  "ortho",
  "deriv_mode",
  "loss_weights",
  "s_l1_steps",
  "rank_tol",
  "devices",
)


def start_processes() -> None:
  """jax.distributed.initialize when --distributed or --coordinator asks for it; call first."""
  if FLAGS.coordinator or FLAGS.distributed:
    from lrpinn_jax.fit import sharding

    try:
      sharding.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
    except (RuntimeError, ValueError) as e:
      raise UserError(f"jax.distributed.initialize failed: {str(e).splitlines()[0]}") from None


def experiment_kwargs(problem: str, n_train: int) -> dict:
  """ExperimentConfig keyword arguments: the --recipe's settings for ``problem``, explicit flags
  on top, and the flags that are not recipe settings. A recipe's mu batch that is not smaller
  than the ``n_train`` training mu means all of them (0); an explicit --mu_batch is kept as
  given (and refused by validation if too large)."""
  given = {name: getattr(FLAGS, name) for name in recipes.SETTINGS}
  if FLAGS.periodic_x is not None:
    print(
      "--periodic_x is now --periodic (every periodic coordinate); using it as --periodic",
      file=sys.stderr,
    )
    if given["periodic"] is None:
      given["periodic"] = FLAGS.periodic_x
  settings = recipes.resolve(problem, FLAGS.recipe, given)
  if given["mu_batch"] is None and settings["mu_batch"] >= n_train:
    settings["mu_batch"] = 0
  return {"recipe": FLAGS.recipe, **settings, **{name: getattr(FLAGS, name) for name in _OTHER}}
