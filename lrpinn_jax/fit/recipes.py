"""Named training recipes: the one home of every tuned setting, per problem.

A recipe is a complete assignment of the settings in ``SETTINGS`` (optimizer, schedule, step
counts, sampling, architecture switches, Phase-2 optimizer). Every experiment command runs
``--recipe=best`` unless told otherwise; ``--recipe=paper`` is the paper's recipe (raw mu, Adam
2.5e-4 constant, 20,000 Phase-1 steps, 10,000 Adam Phase-2 steps), the same for every problem.
An explicit command-line flag overrides the recipe's value for that setting.

Problems are named by command: "convection" (experiments.convection), "cdr/<preset>"
(experiments.cdr --pde=<preset>), "cdr_family" (experiments.cdr --mu_set=...), "helmholtz". Where
the evidence for a "best" entry lives: results/<experiment>/README.md (each table row has its
command).
"""

from __future__ import annotations

from typing import Dict, Mapping

from lrpinn_jax.errors import UserError

# The paper's recipe (Cho et al. 2023, official code): every setting a recipe controls.
PAPER = {
  "phase1_steps": 20000,
  "phase2_steps": 10000,
  "lr": 2.5e-4,
  "phase2_lr": None,  # None: same as lr
  "lr_schedule": "constant",
  "optimizer": "adam",
  "normalize_mu": False,
  "resample": False,
  "mu_batch": 0,
  "mu_sampling": "uniform",
  "s_init": 0.0,
  "periodic": False,
  "hard_ic": False,
  "causal_eps": 0.0,
  "sine_start": 0.0,
  "t_scale": 1.0,
  "phase2_optimizer": "adam",
  "phase2_batched": False,
  "n_f": 1000,
  "phase2_n_f": None,  # None: n_f
}
SETTINGS = tuple(PAPER)

# What every "best" recipe shares: mu normalised to [-1, 1], Adam 1e-3 with cosine decay, fresh
# collocation points every step, Levenberg-Marquardt Phase 2.
_IMPROVED = {
  **PAPER,
  "lr": 1e-3,
  "lr_schedule": "cosine",
  "normalize_mu": True,
  "resample": True,
  "phase2_optimizer": "lm",
  "phase2_steps": 300,
}

BEST = {
  # beta in [30, 40], u0 = 1 + sin x (results/convection_30_40): SOAP, 6 of the 11 betas and
  # 500 fresh collocation points per step, hypernetwork heads starting at s = 1.
  "convection": {
    **_IMPROVED,
    "optimizer": "soap",
    "phase1_steps": 24000,
    "mu_batch": 6,
    "s_init": 1.0,
    "n_f": 500,
  },
  # Paper Table 4 and the failure-mode studies (results/table4, results/reaction_5_10,
  # results/rd_5_10). Diffusion and convection-diffusion alone were not tuned separately: they
  # take the CDR recipe's settings, without the hard initial condition's periodic-kink issue.
  "cdr/convection": {**_IMPROVED, "phase1_steps": 6000},
  "cdr/reaction": {**_IMPROVED, "phase1_steps": 6000, "hard_ic": True},
  "cdr/diffusion": {**_IMPROVED, "phase1_steps": 3000, "hard_ic": True, "causal_eps": 1.0},
  "cdr/convection_diffusion": {
    **_IMPROVED,
    "phase1_steps": 3000,
    "hard_ic": True,
    "causal_eps": 1.0,
  },
  "cdr/reaction_diffusion": {
    **_IMPROVED,
    "phase1_steps": 1500,
    "phase2_steps": 100,
    "hard_ic": True,
    "periodic": True,
    "causal_eps": 1.0,
  },
  "cdr/cdr": {
    **_IMPROVED,
    "phase1_steps": 3000,
    "phase2_steps": 100,
    "mu_batch": 8,
    "hard_ic": True,
    "causal_eps": 1.0,
    "phase2_batched": True,
  },
  # One model for every CDR sub-family (experiments.cdr --mu_set=cdr_family_1_5, P2INN's 190
  # mu; results/cdr_family_1_5): the CDR recipe's hard IC and causal weighting, SOAP, and mu
  # draws that give each sub-family the same chance (5 convection mu beside 125 CDR mu); Phase
  # 2 on 2,000 points (1,000 are overfitted: 159 of the 190 mu got worse than zero-shot).
  "cdr_family": {
    **_IMPROVED,
    "optimizer": "soap",
    "phase1_steps": 26000,
    "phase2_steps": 100,
    "mu_batch": 8,
    "mu_sampling": "family",
    "hard_ic": True,
    "causal_eps": 1.0,
    "phase2_batched": True,
    "phase2_n_f": 2000,
  },
  # a1 = a2 = a in [2, 3] (results/helmholtz_2_3): sine first layer, 10 geodesic-LM steps.
  "helmholtz": {
    **_IMPROVED,
    "phase1_steps": 20000,
    "sine_start": 30.0,
    "phase2_optimizer": "lm_geodesic",
    "phase2_steps": 10,
    "phase2_batched": True,
  },
  # Any Problem without a recipe of its own (experiments.train --problem=FILE): the settings
  # that carried over between the tuned problems above (SOAP, s = 1 at init, 8 mu per step,
  # fresh points, LM Phase 2 batched over the targets). Not tuned for any one problem.
  "generic": {
    **_IMPROVED,
    "optimizer": "soap",
    "phase1_steps": 10000,
    "mu_batch": 8,
    "s_init": 1.0,
    "phase2_batched": True,
  },
}
# Viscous Burgers over (nu, A) (results/burgers): the generic settings with 14,000 Phase-1 steps
# (19.8 minutes on 2 cores) and 10,000 Phase-2 points: on 1,000 the shock at nu = 0.01/pi stays
# at 0.021 after 300 LM steps, on 10,000 it reaches 0.003.
BEST["burgers"] = {**BEST["generic"], "phase1_steps": 14000, "phase2_n_f": 10000}
# Kovasznay flow over Re in [20, 100] (results/kovasznay): the generic settings with 12,000
# Phase-1 steps on 4 of the 9 training Re per step (13.5 minutes on 2 cores).
BEST["kovasznay"] = {**BEST["generic"], "phase1_steps": 12000, "mu_batch": 4}
# Taylor-Green vortex over nu in [0.01, 0.1] (results/taylor_green, trained on 9 nu): x and y
# seen through cos and sin (exactly periodic), 11,000 steps on 3 nu per step (14.3 minutes
# alone); zero-shot velocity <= 0.0027 and pressure <= 0.021 at the 10 held-out nu.
BEST["taylor_green"] = {**BEST["generic"], "phase1_steps": 11000, "mu_batch": 3, "periodic": True}

RECIPES = ("best", "paper")
PROBLEMS = tuple(BEST)


def recipe(problem: str, name: str) -> Dict[str, object]:
  """The settings of recipe ``name`` for ``problem``: a dict over SETTINGS."""
  if problem not in BEST:
    raise UserError(f"no recipes for problem {problem!r}; known: {', '.join(PROBLEMS)}")
  if name == "paper":
    return dict(PAPER)
  if name == "best":
    return dict(BEST[problem])
  raise UserError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")


def resolve(problem: str, name: str, overrides: Mapping[str, object]) -> Dict[str, object]:
  """Recipe settings with ``overrides`` (explicit flags; None = not given) put on top."""
  out = recipe(problem, name)
  unknown = set(overrides) - set(SETTINGS)
  if unknown:
    raise UserError(f"not recipe settings: {', '.join(sorted(unknown))}")
  out.update({k: v for k, v in overrides.items() if v is not None})
  return out


def describe(*problems: str) -> str:
  """Plain-text table of the "best" recipe of each problem beside the paper's (for --help)."""
  multi = len(problems) > 1
  cols = [(p.split("/")[-1] if multi else "best", recipe(p, "best")) for p in problems]
  cols.append(("paper", dict(PAPER)))
  width = max(map(len, SETTINGS))
  widths = [max(len(name), *(len(str(c[k])) for k in SETTINGS)) for name, c in cols]
  title = (
    "Recipes: --recipe=best (default) uses the column of the --pde given; --recipe=paper "
    "the last one. An explicit flag overrides its setting."
    if multi
    else "Recipes (--recipe=best is the default; an explicit flag overrides its setting):"
  )
  lines = [
    title,
    "  "
    + f"{'setting':<{width}}"
    + "".join(f"  {name:>{w}}" for (name, _), w in zip(cols, widths)),
  ]
  for k in SETTINGS:
    lines.append(
      "  " + f"{k:<{width}}" + "".join(f"  {str(c[k]):>{w}}" for (_, c), w in zip(cols, widths))
    )
  return "\n".join(lines)
