"""``python -m vivid``: the same as the ``vivid`` command."""

import sys

from vivid.cli.main import main

sys.exit(main())
