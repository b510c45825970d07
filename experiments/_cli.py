"""Shared command-line plumbing: one-line errors, range parsing, the wall-time breakdown."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import textwrap
import time
from typing import Callable, List, Optional, Tuple

import numpy as np
from absl import app, flags, logging

from lrpinn_jax import precision
from lrpinn_jax.errors import UserError
from lrpinn_jax.io import cache
from lrpinn_jax.pdes import mu_sets

flags.DEFINE_bool(
  "x64",
  False,
  "run the whole command in float64 (jax_enable_x64): every parameter, point and solve",
)
flags.DEFINE_string(
  "compilation_cache",
  None,
  "persistent XLA compilation cache folder ('' turns "
  f"it off; default: ${cache.ENV_VAR} if set, else ~/.cache/lrpinn_jax/xla)",
)


# The wall-time breakdown of one command (benchmarks.speed --all): with $LRPINN_JAX_TIMING set to a
# file, run_main writes there {"start_to_main": seconds from $LRPINN_JAX_LAUNCHED (the launcher's
# time.time()) to main, i.e. the interpreter and imports; one entry per ``timed`` part; "main"}.
TIMING_ENV, LAUNCHED_ENV = "LRPINN_JAX_TIMING", "LRPINN_JAX_LAUNCHED"
_PARTS: dict = {}


@contextlib.contextmanager
def timed(part: str):
  """Adds the wall time of the block to the command's breakdown under ``part``."""
  t0 = time.perf_counter()
  try:
    yield
  finally:
    _PARTS[part] = _PARTS.get(part, 0.0) + time.perf_counter() - t0


def _write_timing(main_start: float, main_seconds: float) -> None:
  path = os.environ.get(TIMING_ENV)
  if not path:
    return
  out = {"main": main_seconds, **_PARTS}
  if LAUNCHED_ENV in os.environ:
    out["start_to_main"] = main_start - float(os.environ[LAUNCHED_ENV])
  with open(path, "w") as f:
    json.dump(out, f)


def save_png(fig, path: str, dpi: int) -> None:
  """fig (a matplotlib Figure) as a PNG of 256 colours at dpi: the commands' plots are lines,
  points and a few colour maps, which a palette keeps; about a third of matplotlib's RGBA PNG
  (results/ stays small). Renders once (raw RGBA), quantises with Pillow, matplotlib's own
  image dependency."""
  import io

  from PIL import Image

  buf = io.BytesIO()
  fig.savefig(buf, format="rgba", dpi=dpi)
  w, h = (int(round(v * dpi)) for v in fig.get_size_inches())
  rgb = Image.frombuffer("RGBA", (w, h), buf.getvalue(), "raw", "RGBA", 0, 1).convert("RGB")
  rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def parse_floats(name: str, text: str) -> List[float]:
  """'30,35,40' -> [30.0, 35.0, 40.0]; UserError on anything else."""
  try:
    vals = [float(v) for v in str(text).split(",") if v.strip() != ""]
  except ValueError:
    raise UserError(f"--{name} must be comma-separated numbers, got {text!r}") from None
  if not vals or not all(math.isfinite(v) for v in vals):
    raise UserError(f"--{name} must be comma-separated finite numbers, got {text!r}")
  return vals


def parse_mu_list(name: str, text: str, mu_names=("beta", "nu", "rho")):
  """mu rows: '1,2,3;4,5,6' -> array [[1, 2, 3], [4, 5, 6]] (one number per name of
  ``mu_names``); a named set or a .csv / .json / .txt file -> its rows (lrpinn_jax.pdes.mu_sets)."""
  if text in mu_sets.NAMED or text.endswith((".csv", ".json", ".txt")):
    return mu_sets.load(text, len(mu_names))
  out = []
  for part in str(text).split(";"):
    vals = parse_floats(name, part)
    if len(vals) != len(mu_names):
      count = {1: "one number", 2: "two numbers", 3: "three numbers"}.get(
        len(mu_names), f"{len(mu_names)} numbers"
      )
      raise UserError(f"--{name}: each mu is {count} {','.join(mu_names)}, got {part!r}")
    out.append(vals)
  return np.asarray(out, np.float64)


def parse_range(name: str, text: str) -> Tuple[float, float]:
  """'30,40' -> (30.0, 40.0), lo <= hi; a single number means lo = hi."""
  vals = parse_floats(name, text)
  if len(vals) == 1:
    vals = vals * 2
  if len(vals) != 2 or vals[0] > vals[1]:
    raise UserError(f"--{name} must be 'lo,hi' with lo <= hi, got {text!r}")
  return vals[0], vals[1]


def positive(name: str, value: float) -> float:
  if not (math.isfinite(value) and value > 0):
    raise UserError(f"--{name} must be a positive finite number, got {value}")
  return value


def _flag_line(fl) -> str:
  default = "" if fl.default is None else f" (default: {fl.default})"
  return textwrap.fill(
    f"--{fl.name}: {fl.help}{default}", width=100, initial_indent="  ", subsequent_indent="      "
  )


def command_help(module) -> str:
  """--help text: the command's docstring, its own flags, then the flags it shares with other
  commands, each group in definition order."""
  by_module = flags.FLAGS.flags_by_module_dict()
  own = list(by_module.get(module.__name__, by_module.get(sys.argv[0], [])))
  key = flags.FLAGS.get_key_flags_for_module(module)
  names = {fl.name for fl in own}
  shared_modules = []
  for fl in key:
    if fl.name in names or fl.name in ("help", "helpshort", "helpfull", "helpxml"):
      continue
    for mod, fls in by_module.items():
      if fl in fls and mod not in shared_modules:
        shared_modules.append(mod)
  lines = [(module.__doc__ or "").rstrip(), "", "Flags of this command:"]
  lines += [_flag_line(fl) for fl in own]
  for mod in shared_modules:
    lines += ["", "Shared flags:" if mod.endswith("_flags") else f"Flags from {mod}:"]
    lines += [_flag_line(fl) for fl in by_module[mod] if fl in key]
  lines += [
    "",
    _flag_line(flags.FLAGS["x64"]),
    _flag_line(flags.FLAGS["compilation_cache"]),
    "  --helpfull: every flag, including JAX's and absl's",
  ]
  return "\n".join(lines)


_COMMAND: list = []  # the module of the command run_main runs (for --help)


def _parse_flags(argv):
  if any(a in ("--help", "-h", "--helpshort", "-?") for a in argv[1:]):
    print(command_help(_COMMAND[-1] if _COMMAND else sys.modules["__main__"]))
    sys.exit(0)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def _may_exit_now() -> bool:
  """No profiler or tracer that writes at exit, and no jax.distributed run (whose atexit shutdown
  the other processes wait for)."""
  distributed = getattr(flags.FLAGS, "coordinator", None) or getattr(flags.FLAGS, "distributed", 0)
  return sys.getprofile() is None and sys.gettrace() is None and not distributed


def _exit_now() -> None:
  """What the atexit handlers of a finished single-process command do that matters (JAX's: wait
  for effects such as io_callback; logging's: flush), then os._exit(0) without the rest
  (clearing JAX's backends and caches, XLA's garbage collection, the modules' teardown)."""
  import logging as std_logging

  import jax

  jax.effects_barrier()
  std_logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)


def run_main(
  main: Callable, argv: Optional[List[str]] = None, exit_now: Optional[bool] = None
) -> None:
  """app.run with flag errors and UserError reported as one line on stderr, exit code 2 / 1.
  argv: the command line (default sys.argv). exit_now (default: argv is None, i.e. this process
  is the command): after a command that finished, flush and end the process with os._exit(0),
  skipping the interpreter's teardown of JAX and every module, 0.7-1.1 s of a one-query command
  (results/startup); every file is written and closed by then (checkpoint managers are closed
  by their ``with``). Callers that go on after the command (tests), profilers, coverage and
  multi-process runs keep the normal return."""
  if exit_now is None:
    exit_now = argv is None

  def wrapped(argv):
    # Our progress and errors are printed; absl logs from JAX (backend probing) and orbax (its own
    # ERROR lines for a corrupted checkpoint, which we report as one line) would only add noise.
    logging.set_verbosity(logging.FATAL)
    if flags.FLAGS.x64:
      precision.enable_x64()
    try:
      try:
        cache.enable(flags.FLAGS.compilation_cache)
      except OSError as e:
        raise UserError(f"--compilation_cache: cannot use {e.filename!r}: {e.strerror}") from None
      start, t0 = time.time(), time.perf_counter()
      main(argv)
      _write_timing(start, time.perf_counter() - t0)
      if exit_now and _may_exit_now():
        _exit_now()
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(getattr(e, "exit_code", 1))

  _COMMAND.append(sys.modules[main.__module__])
  app.run(wrapped, argv=argv, flags_parser=_parse_flags)


def module_flags(flag_values, module_name: str) -> dict:
  """{name: value} of the flags a command module defines (for results.json)."""
  return {f.name: f.value for f in flag_values.get_key_flags_for_module(sys.modules[module_name])}
