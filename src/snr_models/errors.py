"""Exceptions that mean "the input is wrong", as opposed to a bug in the package."""


class SnrInputError(ValueError):
    """Bad input from the user: data, configuration or paths. The CLI exits with code 2."""
