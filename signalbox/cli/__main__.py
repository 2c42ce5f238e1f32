"""``python -m signalbox.cli``: the ``signalbox`` command."""

import sys

from signalbox.cli import main

sys.exit(main())
