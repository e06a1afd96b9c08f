"""The ``dropship`` command: one click group, each subcommand in its own module."""
