"""``python -m vivid.cli`` (and ``torchrun -m vivid.cli``): the same as ``python -m vivid``."""

import sys

from vivid.cli.main import main

sys.exit(main())
