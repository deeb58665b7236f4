"""Surgical YAML edits keep every other byte; odd layouts fall back or are refused clearly."""

from __future__ import annotations

import pytest

from fluxfleet.errors import FleetError
from fluxfleet.promote.yamledit import image_tag, set_app_pins, set_image_tag

OVERLAY = """\
# staging overlay: keep this comment
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base   # the base
images:
  # the web image
  - name: ghcr.io/acme/web
    newTag: "v1"  # current
  - name: ghcr.io/acme/sidecar
    newTag: s1
"""


def test_tag_replaced_in_place_keeping_quotes_and_comments() -> None:
    out = set_image_tag(OVERLAY, "ghcr.io/acme/web", "v2", "k.yaml")
    assert out == OVERLAY.replace('newTag: "v1"', 'newTag: "v2"')
    assert image_tag(out, "ghcr.io/acme/web", "k.yaml") == "v2"


def test_numeric_looking_tag_is_quoted() -> None:
    out = set_image_tag(OVERLAY, "ghcr.io/acme/sidecar", "1.10", "k.yaml")
    assert 'newTag: "1.10"' in out and image_tag(out, "ghcr.io/acme/sidecar", "k.yaml") == "1.10"


def test_missing_entry_and_missing_images_are_added() -> None:
    out = set_image_tag(OVERLAY, "ghcr.io/acme/new", "v3", "k.yaml")
    assert out.startswith(OVERLAY) and out.endswith("  - name: ghcr.io/acme/new\n    newTag: v3\n")
    bare = "resources:\n- ../../base  # hi\n"
    out = set_image_tag(bare, "x", "v1", "k.yaml")
    assert out == bare + "images:\n- name: x\n  newTag: v1\n"


def test_flow_style_falls_back_to_round_trip() -> None:
    text = "images: [{name: x, newTag: v1}]  # flow\n"
    out = set_image_tag(text, "x", "v2", "k.yaml")
    assert image_tag(out, "x", "k.yaml") == "v2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("images: {name: x}\n", "`images` must be a list"),
        ("- a\n", "exactly one kustomization"),
        ("a: 1\n---\nb: 2\n", "exactly one kustomization"),
        ("images:\n- name: x\n  newTag: 1.5\n", "must be a string"),
        ("images: [\n", "k.yaml"),
    ],
)
def test_malformed_overlays(text: str, message: str) -> None:
    with pytest.raises(FleetError) as exc:
        set_image_tag(text, "x", "v2", "k.yaml")
    assert message in str(exc.value)


FLEET = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: t   # name
spec:
  apps:
    - name: web      # the shop
      namespace: web
      versions:
        dev: v1
    # next app
    - name: api
      namespace: api
"""


def test_pins_added_changed_and_removed_byte_exactly() -> None:
    one = set_app_pins(FLEET, "web", {"prod-a": "v2"}, "fleet.yaml")
    assert one == FLEET.replace(
        "        dev: v1\n",
        "        dev: v1\n      pins:  # set by `fluxfleet promote` while a rollout is in progress\n"
        "        prod-a: v2\n",
    )
    two = set_app_pins(one, "web", {"prod-a": "v2", "prod-b": "v2"}, "fleet.yaml")
    assert "        prod-a: v2\n        prod-b: v2\n    # next app\n" in two
    assert set_app_pins(two, "web", {}, "fleet.yaml") == FLEET
    api = set_app_pins(FLEET, "api", {"123": "1.0"}, "fleet.yaml")
    assert (
        api
        == FLEET
        + '      pins:  # set by `fluxfleet promote` while a rollout is in progress\n        "123": "1.0"\n'
    )


def test_pins_in_a_multi_document_fragment() -> None:
    frag = (
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nspec:\n  apps: []\n---\n"
        + FLEET.split("metadata:")[0]
        + "spec:\n  apps:\n    - name: ui\n      namespace: ui\n"
    )
    out = set_app_pins(frag, "ui", {"c": "v1"}, "fleet.d/ui.yaml")
    assert out.startswith(frag) and out.endswith("        c: v1\n")
    with pytest.raises(FleetError):
        set_app_pins(frag, "nope", {}, "fleet.d/ui.yaml")
