"""How much the missed-call report lists: each list is capped and says how many more there are.

A report that listed every unanswered inquiry of a busy week in full was
3.9 MB; a person reads the first screens, a program may ask up to ROWS_MAX
(the API's ``limit``). The summary counts every row all the same.
"""

from __future__ import annotations

ROWS_SHOWN = 200
ROWS_MAX = 5000


def more_text(count: int) -> str:
    """The line that stands for the rows left out («… и ещё 12»)."""
    return f"… и ещё {count}"
