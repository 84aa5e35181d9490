"""`python -m gitdeploy` runs the CLI."""
from gitdeploy.cli.app import main

main()
