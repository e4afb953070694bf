"""Subcommand modules of the `crnkit` CLI, each imported only when its group runs."""
