"""``python -m jobhost``: the same as the ``jobhost`` command."""

from __future__ import annotations

import sys

from jobhost.cli.main import main

sys.exit(main())
