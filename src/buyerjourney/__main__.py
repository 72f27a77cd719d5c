"""``python -m buyerjourney``."""

from buyerjourney.cli import main

main()
