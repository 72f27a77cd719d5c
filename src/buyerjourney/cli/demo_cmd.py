"""(commands are added by their issue's work)"""

from __future__ import annotations
