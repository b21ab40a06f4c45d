"""`${NAME}` references to environment variables: how config and alert URLs name secrets."""

from __future__ import annotations

import re

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
