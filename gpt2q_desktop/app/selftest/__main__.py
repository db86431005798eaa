"""``python -m gpt2q_desktop.app.selftest``."""

from .run import main

main()
