"""Entry point for `python -m ocodex`."""

from ocodex.cli import main

raise SystemExit(main())
