"""The commands of an installed lrpinn_jax: ``lrpinn-jax <command> [flags]`` (the console
script) or ``python -m lrpinn_jax <command> [flags]``; the same programs as
``python -m experiments.<command>`` in the source tree, whose ``experiments/`` folder the wheel
ships as ``lrpinn_jax.commands``. ``lrpinn-jax`` alone lists the commands; ``lrpinn-jax
<command> --help`` gives a command's flags.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import List, Optional

_USAGE = "usage: lrpinn-jax <command> [flags]   (lrpinn-jax <command> --help for its flags)"


def commands() -> List[str]:
  """The command names (the public modules of lrpinn_jax.commands)."""
  from lrpinn_jax import commands as package

  return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name[0] != "_")


def main(argv: Optional[List[str]] = None) -> None:
  whole_process = argv is None  # the console script: end the process when the command is done
  argv = list(sys.argv if argv is None else argv)
  try:
    names = commands()
  except ImportError:
    print(
      "error: the commands come with an installed lrpinn_jax (pip install .); in the source "
      "tree run python -m experiments.<command>",
      file=sys.stderr,
    )
    sys.exit(2)
  if len(argv) < 2 or argv[1] in ("-h", "--help"):
    print(f"{_USAGE}\ncommands: {', '.join(names)}")
    sys.exit(0 if len(argv) >= 2 else 2)
  name = argv[1]
  if name not in names:
    print(f"error: unknown command {name!r}; one of {', '.join(names)}", file=sys.stderr)
    sys.exit(2)
  module = importlib.import_module(f"lrpinn_jax.commands.{name}")
  from lrpinn_jax.commands import _cli

  _cli.run_main(module.main, [f"lrpinn-jax {name}"] + argv[2:], exit_now=whole_process)


if __name__ == "__main__":
  main()
