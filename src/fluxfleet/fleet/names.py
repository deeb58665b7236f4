"""Kubernetes name and label rules, as the API server applies them (apimachinery validation)."""

from __future__ import annotations

import re

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_ENV_VAR_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
# the OCI distribution spec's tag grammar
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# distribution/reference: [registry[:port]/]path[/path...][:tag][@digest]
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
)
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$")


def dns1123_label_error(value: str) -> str | None:
    if len(value) > 63:
        return f"{value!r} is longer than 63 characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return (
            f"{value!r} is not a valid DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def label_key_error(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"label key {key!r} has an empty prefix"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"label key prefix {prefix!r} must be a DNS-1123 subdomain"
    if not name:
        return f"label key {key!r} has an empty name"
    if len(name) > 63:
        return f"label key name {name!r} is longer than 63 characters"
    if not _QUALIFIED_NAME_PART.fullmatch(name):
        return (
            f"label key {key!r} is invalid: alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def label_value_error(value: str) -> str | None:
    if len(value) > 63:
        return f"label value {value!r} is longer than 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return (
            f"label value {value!r} is invalid: empty, or alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return None


def image_tag_error(value: str) -> str | None:
    if not IMAGE_TAG.match(value):
        return (
            f"{value[:130]!r} is not a valid image tag: up to 128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return None


def image_reference_error(value: str, *, tagged: bool = True) -> str | None:
    """distribution/reference's grammar; ``tagged=False`` also refuses a tag or digest."""
    name, at, digest = value.partition("@")
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, _, tag = name.rpartition(":")
    if not tagged and (at or tag):
        return f"image {value!r} must be a repository with its registry and no tag or digest (like ghcr.io/org/app)"
    if len(name) > 255 or not _IMAGE_NAME.match(name):
        return (
            f"{value[:300]!r} is not a valid image repository: [registry[:port]/]path, lower-case path parts"
        )
    if tag and not IMAGE_TAG.match(tag):
        return image_tag_error(tag)
    if at and not _DIGEST.match(digest):
        return f"{digest[:300]!r} is not a valid image digest (like sha256:<64 hex digits>)"
    return None


def duration_error(value: str) -> str | None:
    if not _GO_DURATION.fullmatch(value):
        return f"{value!r} is not a duration like 30s, 5m, 1h30m"
    return None


def var_name_error(value: str) -> str | None:
    """Flux's rule for postBuild variable names (kustomize-controller varsub)."""
    if not _ENV_VAR_NAME.fullmatch(value):
        return f"variable name {value!r} must match ^[_a-zA-Z][_a-zA-Z0-9]*$"
    return None


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")


def duration_seconds(value: str) -> float:
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))


def go_duration(value: str) -> str:
    """Format a duration as Go's time.Duration.String() does (``1m`` -> ``1m0s``)."""
    total = duration_seconds(value)
    if total == 0:
        return "0s"
    if total < 1:
        return f"{round(total * 1000)}ms"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    sec = f"{seconds:g}s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{sec}"
    if minutes:
        return f"{int(minutes)}m{sec}"
    return sec
