"""``python -m harmscope``."""

from harmscope.cli import main

main()
