"""gitdeploy: a Git repository of manifests, converged onto a Docker engine.

Read the code in this order: core/model.py (what a user declares),
core/observed.py (what runs), core/plan.py (the difference as actions),
apply.py (carrying the actions out through engine/), operations.py (the use
cases the CLI calls), then the adapters: manifests/, source/, engine/, output/,
cli/.
"""

__version__ = "0.1.0"
