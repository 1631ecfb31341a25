"""Entry point for `python -m ocodex`."""

from ocodex.launch import main

raise SystemExit(main())
