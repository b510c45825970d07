"""The one exception type the command-line tools turn into a one-line message."""


class UserError(Exception):
  """Bad input from the user (flags, files, checkpoints): reported in one line, no traceback."""


class Preempted(UserError):
  """Training stopped by SIGTERM or SIGINT after saving a checkpoint at the step reached; the
  commands exit with ``exit_code`` (75, EX_TEMPFAIL: "try again"), and --resume continues."""

  exit_code = 75
