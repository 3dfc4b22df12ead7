"""One module per `genrm` subcommand; each defines `add_arguments(parser)` and `run(args) -> int`
and only parses and prints.

May import: any package below (policy, serving, export, demo, star, train, eval, ...); never
another command.
"""
