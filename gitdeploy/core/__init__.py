"""The pure core: typed desired state, observed state, and the planner.

Nothing in this package imports docker, git, typer or rich, and nothing here
does I/O; tests/unit/test_core_purity.py keeps it that way.
"""
