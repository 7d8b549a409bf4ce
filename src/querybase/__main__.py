"""`python -m querybase` is the `querybase` command."""

from querybase.cli import main

raise SystemExit(main())
