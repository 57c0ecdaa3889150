"""The pure core: rules and value types with no Django, no I/O and no clock.

import-linter enforces the boundary (see pyproject.toml).
"""
