"""The `genlab` command, one module per command group.

Each module adds its parsers (`register`) and handles them with calls into the library:
parsing and printing only, so that the Python API can do everything the CLI does. The
library is bound lazily (genlab.commands.common.lazy), so that building the parser, and
so `--help`, imports neither torch nor the models.
"""
