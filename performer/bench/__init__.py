"""The speed and memory benchmarks, one module per stage (``performer bench NAME``).

Each module exposes ``add_arguments(parser)`` and ``run(args) -> dict``; :mod:`performer.cli.bench` lists them.
"""
