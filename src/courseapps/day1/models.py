"""The request bodies of the Day 1 APIs; pydantic rejects anything else with a 422 before an endpoint runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class Order(BaseModel):
    """An order as a customer submits it."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ID_PATTERN, description="the caller's id for this order (used as the record key)")
    customer: str = Field(min_length=1, max_length=100)
    amount: float = Field(gt=0, le=1_000_000, description="total price, > 0")


class Job(BaseModel):
    """A unit of work: `seconds` says how long doing it takes (the lesson's stand-in for real work)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=ID_PATTERN)
    seconds: float = Field(ge=0, le=30)
