"""``python -m nestr``."""

import sys

from nestr.cli.main import main

sys.exit(main())
