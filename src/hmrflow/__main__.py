"""``python -m hmrflow`` runs the command-line interface."""

import sys

from hmrflow.cli.main import main

sys.exit(main())
