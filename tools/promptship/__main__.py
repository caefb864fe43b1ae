"""``python -m promptship`` runs the CLI."""

import sys

from promptship.cli import main

sys.exit(main())
