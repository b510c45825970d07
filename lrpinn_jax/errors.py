"""The one exception type the command-line tools turn into a one-line message."""


class UserError(Exception):
  """Bad input from the user (flags, files, checkpoints): reported in one line, no traceback."""
