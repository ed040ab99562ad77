"""``python -m fptopt.cli``: the same as the ``fptopt`` command."""

import sys

from . import main

sys.exit(main())
