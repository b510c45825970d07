"""Checkpoints with orbax: Phase-1 training state, the model config beside it, and ``load``.

Workdir layout:
  <workdir>/model.json          ModelConfig + PDE name (what ``load`` needs to rebuild the model)
  <workdir>/checkpoints/<step>/  orbax items "params" and "train" ({"opt_state", "step"})
"""
from __future__ import annotations

import json
import os
from typing import Optional

import jax
import orbax.checkpoint as ocp

from lrpinn_jax.errors import UserError
from lrpinn_jax.model import ModelConfig, init_params
from lrpinn_jax.solver import Solver

MODEL_FILE = "model.json"
CKPT_DIR = "checkpoints"


def manager(workdir: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  """A CheckpointManager for <workdir>/checkpoints (use it as a context manager)."""
  path = os.path.join(os.path.abspath(workdir), CKPT_DIR)
  return ocp.CheckpointManager(
      path, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))


def save_state(mngr: ocp.CheckpointManager, state) -> None:
  """Save a Phase1State (params, opt_state, step) at its step."""
  step = int(state.step)
  mngr.save(step, args=ocp.args.Composite(
      params=ocp.args.StandardSave(state.params),
      train=ocp.args.StandardSave({"opt_state": state.opt_state, "step": state.step})),
      force=True)


def restore_state(mngr: ocp.CheckpointManager, target, step: Optional[int] = None):
  """Restore a Phase1State shaped like ``target`` from ``step`` (default: the latest)."""
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise UserError(f"no checkpoint found in {mngr.directory}")
  try:
    out = mngr.restore(step, args=ocp.args.Composite(
        params=ocp.args.StandardRestore(target.params),
        train=ocp.args.StandardRestore({"opt_state": target.opt_state, "step": target.step})))
  except Exception as e:  # orbax raises many types for truncated or foreign files
    raise UserError(f"cannot restore checkpoint {mngr.directory}/{step}: "
                    f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
  return type(target)(out.params, out.train["opt_state"], out.train["step"])


def write_model_info(workdir: str, cfg: ModelConfig, pde_name: str) -> None:
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, MODEL_FILE), "w") as f:
    json.dump({"model": json.loads(cfg.to_json()), "pde": pde_name}, f, indent=1)


def read_model_info(workdir: str):
  path = os.path.join(workdir, MODEL_FILE)
  try:
    with open(path) as f:
      info = json.load(f)
    return ModelConfig.from_dict(info["model"]), info["pde"]
  except FileNotFoundError:
    raise UserError(f"{workdir} is not an lrpinn_jax workdir (no {MODEL_FILE})") from None
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f"corrupted {path}: {e}") from None


def load(workdir: str, step: Optional[int] = None) -> Solver:
  """The Phase-1 model in an experiment's workdir (latest checkpoint by default) as a Solver."""
  cfg, pde_name = read_model_info(workdir)
  abstract = jax.eval_shape(lambda: init_params(cfg, jax.random.key(0)))
  with manager(workdir) as mngr:
    step = mngr.latest_step() if step is None else step
    if step is None:
      raise UserError(f"no checkpoint found in {os.path.join(workdir, CKPT_DIR)}")
    try:
      out = mngr.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract)))
    except Exception as e:
      raise UserError(f"cannot restore checkpoint {workdir}/{CKPT_DIR}/{step}: "
                      f"{type(e).__name__}") from None
  return Solver(out.params, cfg, (("pde", pde_name), ("step", int(step))))
