"""`python -m hearth ...`: see hearth.cli."""

import sys

from hearth.cli import main

sys.exit(main())
