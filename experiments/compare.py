"""Hyper-LR-PINN against the paper's baselines, same PDE, points, test sets and step budget.

  python -m experiments.compare --pde=convection --beta_range=30,40 --targets=30,35,40 \
      --methods=pinn,pinn_p,s2s,curriculum,naive_lr,maml,reptile,hyper_lr --workdir=DIR

  python -m experiments.compare --pde=cdr --init_cond=gauss_pi_2 --mu_set=cdr_family_1_5 \
      --target_mu='5,0,0;0,5,0;0,0,5;5,5,0;0,5,5;5,5,5' --hyper_checkpoint=results/cdr_family_1_5

--mu_set trains on an explicit set of mu (lrpinn_jax.pdes.mu_sets) instead of the --*_range grid,
and --target_mu gives whole mu triples instead of betas. Writes DIR/compare.json and DIR/compare.md.
The logic lives in lrpinn_jax.baselines.compare.
"""

from __future__ import annotations

from absl import flags

from lrpinn_jax.baselines.compare import METHODS, CompareConfig, run
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.experiment import mu_grid
from lrpinn_jax.pdes import mu_sets
from lrpinn_jax.pdes.registry import CDR_PRESETS, INIT_CONDS

from . import _cli

flags.DEFINE_enum("pde", "convection", list(CDR_PRESETS), "member of the CDR family")
flags.DEFINE_enum("init_cond", "sin_1", list(INIT_CONDS), "initial condition")
flags.DEFINE_string("beta_range", "30,40", "training beta range 'lo,hi' (integer grid)")
flags.DEFINE_string("nu_range", "0,0", "training nu range 'lo,hi'")
flags.DEFINE_string("rho_range", "0,0", "training rho range 'lo,hi'")
flags.DEFINE_string("targets", "30,35,40", "target betas (with nu, rho from the lower range ends)")
flags.DEFINE_string(
  "mu_set",
  None,
  "training mu: a named set or CSV / JSON file of beta,nu,rho rows instead of the --*_range grid",
)
flags.DEFINE_string("target_mu", None, "target mu triples 'b,n,r;b,n,r' (instead of --targets)")
flags.DEFINE_string("methods", ",".join(METHODS), "comma-separated methods")
flags.DEFINE_integer("steps", 10000, "per-target training / pre-training steps", lower_bound=0)
flags.DEFINE_integer(
  "finetune_steps", 1000, "fine-tuning steps per target (pre-trained methods)", lower_bound=0
)
flags.DEFINE_float("lr", 1e-3, "Adam learning rate (all methods; MAML's outer rate)")
flags.DEFINE_integer("seed", 0, "seed for initialisation and all sampled points")
flags.DEFINE_integer(
  "eval_every", 100, "test error check every N steps (steps to abs err 0.05)", lower_bound=1
)
flags.DEFINE_string("naive_ranks", "30", "ranks of Naive-LR-PINN, e.g. 10,20,30,40,50")
flags.DEFINE_integer(
  "meta_rank", 30, "rank of the Naive-LR-PINN that MAML / Reptile meta-train", lower_bound=1
)
flags.DEFINE_integer("meta_steps", 1000, "meta-training (outer) steps", lower_bound=0)
flags.DEFINE_integer("inner_steps", 5, "inner SGD steps per task", lower_bound=1)
flags.DEFINE_float("inner_lr", 1e-3, "inner SGD learning rate")
flags.DEFINE_integer("task_batch", 4, "tasks (training mu) per meta step", lower_bound=1)
flags.DEFINE_bool(
  "first_order", False, "first-order MAML (no differentiation through the inner loop)"
)
flags.DEFINE_integer("s2s_segments", 5, "time segments of PINN-S2S", lower_bound=1)
flags.DEFINE_integer("curriculum_stages", 5, "stages of the curriculum", lower_bound=1)
flags.DEFINE_string(
  "hyper_checkpoint",
  None,
  "Phase-1 workdir or official .npz for hyper_lr (default: train Phase 1 with --steps)",
)
flags.DEFINE_enum("hyper_optimizer", "lm", ["lm", "adam"], "Phase-2 optimizer of hyper_lr")
flags.DEFINE_integer("n_f", 1000, "collocation points", lower_bound=1)
flags.DEFINE_integer("n_0", 256, "initial-condition points", lower_bound=1)
flags.DEFINE_integer("n_b", 100, "periodic boundary pairs", lower_bound=1)
flags.DEFINE_integer("n_test", 1000, "test points per target", lower_bound=1)
flags.DEFINE_string("workdir", "runs/compare", "output directory")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  ranges = [
    _cli.parse_range(f"{n}_range", getattr(FLAGS, f"{n}_range")) for n in ("beta", "nu", "rho")
  ]
  train_mu = mu_sets.load(FLAGS.mu_set) if FLAGS.mu_set else mu_grid(ranges, [1.0, 1.0, 1.0])
  if FLAGS.target_mu:
    targets = [tuple(m) for m in _cli.parse_mu_list("target_mu", FLAGS.target_mu)]
  elif FLAGS.mu_set:
    raise UserError("--mu_set needs --target_mu (whole mu triples)")
  else:
    targets = [(b, ranges[1][0], ranges[2][0]) for b in _cli.parse_floats("targets", FLAGS.targets)]
  methods = tuple(m.strip() for m in FLAGS.methods.split(",") if m.strip())
  if FLAGS.first_order:
    methods = tuple("maml_fo" if m == "maml" else m for m in methods)
  ranks = tuple(int(v) for v in _cli.parse_floats("naive_ranks", FLAGS.naive_ranks))
  cfg = CompareConfig(
    workdir=FLAGS.workdir,
    train_mu=tuple(map(tuple, train_mu.tolist())),
    targets=tuple(targets),
    methods=methods,
    pde=FLAGS.pde,
    init_cond=FLAGS.init_cond,
    steps=FLAGS.steps,
    finetune_steps=FLAGS.finetune_steps,
    lr=FLAGS.lr,
    seed=FLAGS.seed,
    eval_every=FLAGS.eval_every,
    naive_ranks=ranks,
    meta_rank=FLAGS.meta_rank,
    meta_steps=FLAGS.meta_steps,
    inner_steps=FLAGS.inner_steps,
    inner_lr=FLAGS.inner_lr,
    task_batch=FLAGS.task_batch,
    s2s_segments=FLAGS.s2s_segments,
    curriculum_stages=FLAGS.curriculum_stages,
    hyper_checkpoint=FLAGS.hyper_checkpoint,
    hyper_optimizer=FLAGS.hyper_optimizer,
    n_f=FLAGS.n_f,
    n_0=FLAGS.n_0,
    n_b=FLAGS.n_b,
    n_test=FLAGS.n_test,
  )
  run(cfg, _cli.module_flags(FLAGS, __name__))


if __name__ == "__main__":
  _cli.run_main(main)
