"""Named recipes: documented settings, the paper's recipe exactly, explicit flags on top, and the
persistent compilation cache that every command switches on."""

import os
import subprocess
import sys

import pytest

from lrpinn_jax.errors import UserError
from lrpinn_jax.fit import recipes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_paper_recipe_is_the_papers_settings_for_every_problem():
  for problem in recipes.PROBLEMS:
    r = recipes.recipe(problem, "paper")
    assert set(r) == set(recipes.SETTINGS)
    assert (r["phase1_steps"], r["phase2_steps"], r["lr"], r["lr_schedule"]) == (
      20000,
      10000,
      2.5e-4,
      "constant",
    )
    assert r["phase2_optimizer"] == "adam" and r["phase2_lr"] is None
    assert not any(
      r[k]
      for k in (
        "normalize_mu",
        "resample",
        "periodic",
        "hard_ic",
        "phase2_batched",
        "mu_batch",
        "s_init",
        "causal_eps",
        "sine_start",
      )
    )


def test_best_recipes_resolve_to_their_documented_settings():
  conv = recipes.recipe("convection", "best")
  assert set(conv) == set(recipes.SETTINGS)
  assert conv == {**recipes.PAPER, **recipes.BEST["convection"]}
  assert conv["normalize_mu"] and conv["resample"] and conv["lr_schedule"] == "cosine"
  assert conv["phase2_optimizer"] == "lm"
  assert (
    recipes.recipe("cdr/cdr", "best")["hard_ic"]
    and recipes.recipe("cdr/cdr", "best")["causal_eps"] == 1.0
  )
  helm = recipes.recipe("helmholtz", "best")
  assert (helm["sine_start"], helm["phase2_optimizer"], helm["phase2_steps"]) == (
    30.0,
    "lm_geodesic",
    10,
  )
  assert "cdr/reaction_diffusion" in recipes.PROBLEMS and "cdr/diffusion" in recipes.PROBLEMS


def test_explicit_settings_override_the_recipe_and_none_does_not():
  r = recipes.resolve("convection", "best", {"lr": 5e-3, "mu_batch": None, "periodic": False})
  assert r["lr"] == 5e-3 and r["periodic"] is False
  assert r["mu_batch"] == recipes.recipe("convection", "best")["mu_batch"]
  paper_lm = recipes.resolve("convection", "paper", {"phase2_optimizer": "lm"})
  assert paper_lm["phase2_optimizer"] == "lm"


@pytest.mark.parametrize(
  "call,message",
  [
    (lambda: recipes.recipe("convection", "fast"), "--recipe must be one of best, paper"),
    (lambda: recipes.recipe("kdv", "best"), "no recipes for problem 'kdv'"),
    (lambda: recipes.resolve("convection", "best", {"width": 3}), "not recipe settings: width"),
  ],
)
def test_bad_recipe_input(call, message):
  with pytest.raises(UserError, match=message):
    call()


def test_help_lists_the_recipes():
  text = recipes.describe("convection")
  assert "phase1_steps" in text and "best" in text and "paper" in text and "20000" in text


def test_compilation_cache_folder_is_filled(tmp_path):
  """cache.enable(dir) before the first compilation: compiled programs land in dir; '' is off."""
  code = (
    "import sys, jax; from lrpinn_jax import cache; "
    "print(cache.enable(sys.argv[1])); jax.jit(lambda x: x * 2 + 1)(1.0).block_until_ready()"
  )
  on = tmp_path / "xla"
  r = subprocess.run(
    [sys.executable, "-c", code, str(on)], cwd=ROOT, capture_output=True, text=True, timeout=120
  )
  assert r.returncode == 0, r.stderr
  assert r.stdout.strip() == str(on) and len(os.listdir(on)) > 0
  r = subprocess.run(
    [sys.executable, "-c", code, ""], cwd=ROOT, capture_output=True, text=True, timeout=120
  )
  assert r.returncode == 0 and r.stdout.strip() == "None"
