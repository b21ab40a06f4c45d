"""`python -m crosspost` runs the command line."""

from .cli import main

main()
