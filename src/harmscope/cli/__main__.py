"""``python -m harmscope.cli``."""

from harmscope.cli import main

main()
