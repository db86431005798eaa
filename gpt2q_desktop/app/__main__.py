"""``python -m gpt2q_desktop.app``."""

import sys

from .main import main

sys.exit(main())
