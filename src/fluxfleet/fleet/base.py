"""Base model for every fleet.yaml section: unknown keys are errors, camelCase aliases."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from fluxfleet.fleet.names import (
    dns1123_label_error,
    duration_error,
    image_reference_error,
    image_tag_error,
)


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


def _image_tag(v: str) -> str:
    err = image_tag_error(v)
    if err:
        raise ValueError(err)
    return v


def _image_ref(v: str) -> str:
    err = image_reference_error(v)
    if err:
        raise ValueError(err)
    return v


# tags and image references end up in YAML files Flux and the setter markers read: one line each
ImageTag = Annotated[str, AfterValidator(_image_tag)]
ImageRef = Annotated[str, AfterValidator(_image_ref)]
