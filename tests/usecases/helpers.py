"""A small fleet (two clusters, a Rego policy folder) for the use case tests."""

from __future__ import annotations

from fluxfleet.render.api import RenderOptions

# The head every test fleet.yaml shares; each test module appends its own spec.
FLEET_HEAD = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: t
spec:
  source:
    url: ssh://git@example.com/fleet.git
"""

FLEET = (
    FLEET_HEAD
    + """\
  policy:
    rego: [policy]
  environments:
    - name: dev
    - name: prod
  clusters:
    - name: dev-a
      labels: {environment: dev, region: eu}
    - name: prod-a
      labels: {environment: prod, region: eu}
  apps:
    - name: web
      namespace: web
      images: [ghcr.io/acme/web]
      versions: {dev: v2, prod: v1}
"""
)
POLICY = 'package main\n\nimport rego.v1\n\nwarn contains "seen" if { input.kind == "Namespace" }\n'
OVERLAY = "apps/web/overlays/prod/kustomization.yaml"
NO_CACHE = RenderOptions(use_cache=False)
