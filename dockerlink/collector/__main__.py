"""`python -m dockerlink.collector [--parent PID]`: the background process."""

from .process import main

raise SystemExit(main())
