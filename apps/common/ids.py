"""The one way an id is read from a path, a body or a cursor.

Ids are bigint primary keys written as strings (shared/API.md): ASCII digits only,
no sign, no leading zero, no spaces, from 1 to 2**63 - 1. ``int()`` alone would take
``+1``, ``01``, `` 1`` and Arabic-Indic or full-width digits as 1.
"""

import re

MAX_ID = 2**63 - 1
ID_REGEX = r"[1-9][0-9]{0,18}"  # also the schema's pattern for path ids
_ID = re.compile(ID_REGEX)


def parse_id(value: object) -> int:
    """A database id from a URL, body or cursor; ValueError if it cannot be one."""
    if isinstance(value, bool):
        raise ValueError("Not an id.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ID.fullmatch(value):
        number = int(value)
    else:
        raise ValueError("Not an id.")
    if not 1 <= number <= MAX_ID:
        raise ValueError("Not an id.")
    return number

