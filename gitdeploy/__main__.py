"""`python -m gitdeploy` runs the CLI."""
from gitdeploy.cli.main import main

main()
