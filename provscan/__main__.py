"""`python -m provscan` runs the command line."""

from provscan.cli import main

main()
