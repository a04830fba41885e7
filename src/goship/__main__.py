"""``python -m goship``."""

from goship.cli import main

main()
