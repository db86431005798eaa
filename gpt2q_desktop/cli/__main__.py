"""``python -m gpt2q_desktop.cli``."""

import sys

from .main import main

sys.exit(main())
