"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class AccelError(Exception):
    """Bad input the user can fix. The message names what is wrong and what to do."""
