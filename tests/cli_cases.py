"""Several command lines of ONE command in one process, each as `python -m experiments.NAME ARGS`
would run it: through `_cli.run_main`, with the exit code and everything written to file
descriptor 2 recorded. The bad-input tests use it so that twenty one-line-error checks pay for
one interpreter and one `import jax` per command instead of twenty (flags are reset to their
defaults before each line).

  python -m tests.cli_cases experiments.convection CASES.json OUT.json
      CASES.json: a list of argument lists; OUT.json: [{"code": int, "stderr": str}, ...]
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import traceback

from absl import flags

from experiments import _cli


def run_case(module, args) -> dict:
  flags.FLAGS.unparse_flags()
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile("w+") as err:
    os.dup2(err.fileno(), 2)
    code = 0
    try:
      _cli.run_main(module.main, [module.__name__, *args])
    except SystemExit as e:
      code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    except BaseException:  # what an uncaught exception would print in a process of its own
      traceback.print_exc()
      code = 1
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
    err.seek(0)
    return {"code": code, "stderr": err.read()}


def main(argv) -> None:
  module = importlib.import_module(argv[1])
  cases = json.load(open(argv[2]))
  out = [run_case(module, args) for args in cases]
  with open(argv[3], "w") as f:
    json.dump(out, f)


if __name__ == "__main__":
  main(sys.argv)
