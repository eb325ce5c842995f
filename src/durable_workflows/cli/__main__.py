"""`python -m durable_workflows.cli`: the `durable-workflows` command."""

import sys

from .main import main

sys.exit(main())
