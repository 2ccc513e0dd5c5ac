"""Fields the leads' request bodies share: an extension as the PBX writes it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# A Mango extension: digits mostly; the screen's sign-in takes the same characters.
Extension = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_\-]{1,32}$")]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
