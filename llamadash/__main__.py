"""``python -m llamadash``: the same as the ``llamadash`` command."""

import sys

from llamadash.cli import main

sys.exit(main())
