"""Base model for every fleet.yaml section: unknown keys are errors, camelCase aliases."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from fluxfleet.fleet.names import dns1123_label_error, duration_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _dns_name(v: str) -> str:
    err = dns1123_label_error(v)
    if err:
        raise ValueError(err)
    return v


def _duration(v: str) -> str:
    err = duration_error(v)
    if err:
        raise ValueError(err)
    return v


Name = Annotated[str, AfterValidator(_dns_name)]
Duration = Annotated[str, AfterValidator(_duration)]
