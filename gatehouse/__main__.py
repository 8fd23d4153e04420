"""`python -m gatehouse`: the `gatehouse` command."""

import sys

from gatehouse.cli import main

sys.exit(main())
