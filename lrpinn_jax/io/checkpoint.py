"""Checkpoints with orbax: Phase-1 training state, the model config beside it, and ``load``.

Workdir layout:
  <workdir>/model.json          ModelConfig + PDE name and initial condition (what ``load`` and
                                ``experiments.finetune`` need to rebuild the model and its PDE)
  <workdir>/checkpoints/<step>/  orbax items "params" and "train" ({"opt_state", "step"})
  <workdir>/phase2.npz          a fine-tuned model's parameters, one array per leaf named by
                                its tree path, and "step" (``save_phase2``; a few hundred
                                numbers, written without orbax so that a one-query command does
                                not import it: 0.7 s, results/startup)
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import TYPE_CHECKING, Any, Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

from lrpinn_jax import precision
from lrpinn_jax.errors import UserError
from lrpinn_jax.fit.phase2 import merge_net
from lrpinn_jax.nn.model import ModelConfig, init_params, net_module
from lrpinn_jax.precision import real
from lrpinn_jax.query.solver import Solver

if TYPE_CHECKING:
  import orbax.checkpoint as ocp


def _ocp():
  """orbax.checkpoint, imported on first use: a command that reads only npz models (the official
  checkpoints) or writes none starts 0.3-0.6 s sooner without it (results/startup)."""
  import orbax.checkpoint

  return orbax.checkpoint


MODEL_FILE = "model.json"
CKPT_DIR = "checkpoints"
PHASE2_FILE = "phase2.npz"


def manager(workdir: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  """A CheckpointManager for <workdir>/checkpoints (use it as a context manager)."""
  path = os.path.join(os.path.abspath(workdir), CKPT_DIR)
  ocp = _ocp()
  return ocp.CheckpointManager(
    path, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  )


def save_state(mngr: ocp.CheckpointManager, state) -> None:
  """Save a Phase1State (params, opt_state, step) at its step."""
  step = int(state.step)
  ocp = _ocp()
  mngr.save(
    step,
    args=ocp.args.Composite(
      params=ocp.args.StandardSave(state.params),
      train=ocp.args.StandardSave({"opt_state": state.opt_state, "step": state.step}),
    ),
    force=True,
  )


def restore_state(mngr: ocp.CheckpointManager, target, step: Optional[int] = None):
  """Restore a Phase1State shaped like ``target`` from ``step`` (default: the latest)."""
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise UserError(f"no checkpoint found in {mngr.directory}")
  ocp = _ocp()
  try:
    out = mngr.restore(
      step,
      args=ocp.args.Composite(
        params=ocp.args.StandardRestore(target.params),
        train=ocp.args.StandardRestore({"opt_state": target.opt_state, "step": target.step}),
      ),
    )
  except Exception as e:  # orbax raises many types for truncated or foreign files
    raise UserError(
      f"cannot restore checkpoint {mngr.directory}/{step}: "
      f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    ) from None
  return type(target)(out.params, out.train["opt_state"], out.train["step"])


def write_model_info(workdir: str, cfg: ModelConfig, pde, kind: str = "phase1", **extra) -> None:
  """model.json: kind "phase1" (hypernetwork model) or "phase2" (fine-tuned; extra: mu, ranks)."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, MODEL_FILE), "w") as f:
    # a Problem is recorded by its source ("file.py:problem", "module:name"), so that load and
    # every command can rebuild it
    json.dump(
      {
        "model": json.loads(cfg.to_json()),
        "pde": getattr(pde, "source", "") or pde.name,
        "init_cond": pde.init_cond,
        "kind": kind,
        **extra,
      },
      f,
      indent=1,
    )


def read_model_info(workdir: str):
  """(ModelConfig, the whole model.json dict)."""
  path = os.path.join(workdir, MODEL_FILE)
  try:
    with open(path) as f:
      info = json.load(f)
    return ModelConfig.from_dict(info["model"]), info
  except FileNotFoundError:
    raise UserError(f"{workdir} is not an lrpinn_jax workdir (no {MODEL_FILE})") from None
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f"corrupted {path}: {e}") from None


def save_phase2(
  workdir: str, cfg: ModelConfig, pde, mu, trainable: dict, frozen: dict, step: int
) -> None:
  """Save a fine-tuned Phase-2 model so that ``load(workdir)`` returns a Solver for it."""
  net, s = merge_net(trainable, frozen)
  write_model_info(
    workdir, cfg, pde, "phase2", mu=[float(v) for v in mu], ranks=[int(v.shape[0]) for v in s]
  )
  leaves = jax.tree_util.tree_flatten_with_path({"net": net, "s": list(s)})[0]
  arrays: Dict[str, Any] = {jax.tree_util.keystr(k): np.asarray(v) for k, v in leaves}
  tmp = os.path.join(workdir, f".{PHASE2_FILE}.{os.getpid()}.tmp")
  with open(tmp, "wb") as f:
    np.savez(f, step=np.int64(step), **arrays)
  os.replace(tmp, os.path.join(workdir, PHASE2_FILE))  # atomic: a reader sees all or nothing


def _read_phase2(path: str, abstract):
  """(params shaped like ``abstract``, step) from a phase2.npz."""
  try:
    with np.load(path) as z:
      paths, tree = jax.tree_util.tree_flatten_with_path(abstract)
      leaves = [z[jax.tree_util.keystr(k)] for k, _ in paths]
      step = int(z["step"])
  except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
    raise UserError(f"cannot read {path}: {type(e).__name__}") from None
  for (k, want), got in zip(paths, leaves):
    if got.shape != want.shape:
      raise UserError(f"{path}: {jax.tree_util.keystr(k)} has shape {got.shape}, not {want.shape}")
  return jax.tree.unflatten(tree, leaves), step


def _abstract_params(cfg: ModelConfig, info: dict):
  if info.get("kind", "phase1") == "phase1":
    return jax.eval_shape(lambda: init_params(cfg, jax.random.key(0)))
  ranks = tuple(info["ranks"])
  s = [jnp.ones(r) for r in ranks]
  net = jax.eval_shape(
    lambda: net_module(cfg, ranks).init(jax.random.key(0), jnp.zeros(cfg.n_in), s)["params"]
  )
  return {"net": net, "s": [jax.ShapeDtypeStruct((r,), real()) for r in ranks]}


def _restore_params(workdir: str, abstract, step: Optional[int]):
  """(params shaped like ``abstract``, step) from the orbax checkpoints of a workdir."""
  ocp = _ocp()
  with manager(workdir) as mngr:
    step = mngr.latest_step() if step is None else step
    if step is None:
      raise UserError(f"no checkpoint found in {os.path.join(workdir, CKPT_DIR)}")
    try:
      out = mngr.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract)))
    except Exception as e:
      raise UserError(
        f"cannot restore checkpoint {workdir}/{CKPT_DIR}/{step}: {type(e).__name__}"
      ) from None
  return out.params, step


def load(workdir: str, step: Optional[int] = None, dtype=None) -> Solver:
  """The model in a workdir (latest checkpoint by default) as a Solver: the Phase-1 model of an
  experiment, or a Phase-2 model saved by ``experiments.finetune``. Parameters as ``dtype``
  (default precision.real(); float64 needs x64 on, e.g. ``load(w, dtype=jnp.float64)``).

  >>> import numpy as np
  >>> solver = load("results/convection_30_40")  # the main command's model, in a clone
  >>> solver.config.rank, solver.info["pde"]
  (50, 'convection')
  >>> solver(np.array([1.0]), np.array([0.5]), np.array([35.0, 0, 0])).shape
  (1,)
  """
  cfg, info = read_model_info(workdir)
  abstract = _abstract_params(cfg, info)
  npz = os.path.join(workdir, PHASE2_FILE)
  if info.get("kind") == "phase2" and os.path.exists(npz):
    restored, step = _read_phase2(npz, abstract)
  else:  # a Phase-1 model, or a Phase-2 model saved with orbax (before phase2.npz)
    restored, step = _restore_params(workdir, abstract, step)
  params = dict(precision.cast(restored, dtype))
  meta = [
    ("pde", info["pde"]),
    ("init_cond", info.get("init_cond", "sin_1")),
    ("kind", info.get("kind", "phase1")),
    ("step", int(step)),
  ]
  if "s" in params:
    params["s"] = tuple(params["s"])
    meta.append(("mu", tuple(info["mu"])))
  return Solver(params, cfg, tuple(meta))
