"""`crnkit study` subcommands, one module each: `add_arguments(parser)` and `run(ns) -> int`."""
