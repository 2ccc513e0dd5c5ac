"""A manager's edit of the wish (``PUT /api/leads/{id}/wish``): the flat keys, each checked.

Any subset of the flat keys (daemon/wishes/present.py); ``null`` clears a field. The
result is the stored fields a manager set, ``{value, by, at}`` each: parsing never
writes them, so a later inquiry never overwrites what a manager typed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from daemon.domain.errors import BadInput
from daemon.wishes.present import FIELD_OF, SPREAD

MAX_NAME_CHARS = 100


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    resort: str | None = Field(default=None, max_length=MAX_NAME_CHARS)


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_from: int | None = Field(default=None, ge=0, le=10**10)
    amount_to: int | None = Field(default=None, ge=0, le=10**10)
    currency: Literal["RUB", "USD", "EUR"] = "RUB"


class WishEdit(BaseModel):
    """The keys a manager may set; every one optional."""

    model_config = ConfigDict(extra="forbid")
    destination: Destination | None = None
    departure_city: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    date_from: date | None = None
    date_to: date | None = None
    nights_from: int | None = Field(default=None, ge=1, le=365)
    nights_to: int | None = Field(default=None, ge=1, le=365)
    adults: int | None = Field(default=None, ge=1, le=50)
    children: list[int | None] | None = Field(default=None, max_length=20)
    budget: Budget | None = None
    hotel_stars: int | None = Field(default=None, ge=1, le=5)
    meal: Literal["RO", "BB", "HB", "FB", "AI", "UAI"] | None = None
    flexible_dates: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> WishEdit:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        if self.nights_from and self.nights_to and self.nights_to < self.nights_from:
            raise ValueError("nights_to is less than nights_from")
        if any(a is not None and not 0 <= a <= 17 for a in self.children or ()):
            raise ValueError("a child's age is 0..17 (null when unknown)")
        return self


def edited_fields(body: Any, current: dict[str, Any], *, by: str, at: datetime) -> dict[str, dict[str, Any]]:
    """The stored fields of a manager's edit; ``current`` is the flat wish now (for the other end of a range).

    BadInput (400) names what is wrong.
    """
    if not isinstance(body, dict) or not body:
        raise BadInput(400, "the body is a JSON object of the wish's fields to set (null clears one)")
    try:
        edit = WishEdit.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadInput(400, f"{where}: {first['msg']}") from None
    given = edit.model_dump(mode="json", include=set(body))
    stamp = {"by": by, "at": at.isoformat()}
    found: dict[str, dict[str, Any]] = {}
    for key, value in given.items():
        if key in FIELD_OF:
            continue
        found[key] = {"value": value, **stamp}
    for field, keys in SPREAD.items():
        if any(k in given for k in keys):
            value = {k: given[k] if k in given else current.get(k) for k in keys}
            low, high = (value[k] for k in keys)
            if low is not None and high is not None and high < low:
                raise BadInput(400, f"{keys[1]} would be before {keys[0]} ({high} < {low})")
            found[field] = {"value": value if any(v is not None for v in value.values()) else None, **stamp}
    return found
