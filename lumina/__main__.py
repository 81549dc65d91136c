"""`python -m lumina` is the `lumina` command."""

import sys

from lumina.cli import main

sys.exit(main())
