"""`python -m microlift ...` is the `microlift` command."""

from microlift.cli import main

raise SystemExit(main())
