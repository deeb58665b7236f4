"""The built-in example fleet (``fluxfleet init --example``): 3 environments x 3 regions."""

from __future__ import annotations

REGIONS = ("us-west-2", "us-east-1", "eu-west-1")
ENVIRONMENTS = ("dev", "staging", "prod")
COST_CENTERS = {"dev": "cc-1001", "staging": "cc-1002", "prod": "cc-1003"}

_HEAD = """\
# fleet.yaml: the whole fleet in one file. `fluxfleet generate` turns it into the Flux repository
# layout under clusters/, apps/ and platform/. Editors complete it with the schema from
# `fluxfleet schema > fleet.schema.json`.
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: example
spec:
  # The one GitRepository every cluster syncs (flux-system).
  source:
    url: ssh://git@github.com/example/fleet.git
    branch: main
    secretRef: flux-system
    interval: 1m

  # Promotion order: dev -> staging -> prod.
  environments:
    - name: dev
      interval: 5m
    - name: staging
      interval: 10m
    - name: prod
      interval: 10m
      promotion:
        soak: 1h          # a version must run in staging this long first
        approval: true    # `fluxfleet promote --approve` records who approved
        waves:
          - name: canary
            selector:
              matchLabels:
                region: us-west-2
          - name: rest

  # Tenants: each team gets a locked-down namespace per app namespace on every cluster it runs on.
  teams:
    - name: team-a
      limits:
        cpu: "8"
        memory: 16Gi
        pods: 100
      allowIngressFrom: [ingress-nginx, monitoring]

  clusters:
"""

_CLUSTER = """\
    - name: {env}-{region}
      labels:
        environment: {env}
        region: {region}
        cluster-type: workload
        team: platform
        cost-center: {cost}
      vars:
        DOMAIN: {region}.{env}.example.com
"""

_TAIL = """\

  # Platform components: reconciled first; apps depend on them.
  platform:
    - name: cert-manager
      namespace: cert-manager
      chart:
        repository: https://charts.jetstack.io
        name: cert-manager
        version: v1.16.1
      placement:
        matchLabels:
          cluster-type: workload
    - name: ingress-nginx
      namespace: ingress-nginx
      chart:
        repository: https://kubernetes.github.io/ingress-nginx
        name: ingress-nginx
        version: 4.11.3
      dependsOn: [cert-manager]
      placement:
        matchLabels:
          cluster-type: workload
    - name: monitoring
      namespace: monitoring
      chart:
        repository: https://prometheus-community.github.io/helm-charts
        name: kube-prometheus-stack
        version: 65.1.1
      placement:
        matchExpressions:
          - key: cluster-type
            operator: In
            values: [workload]
    - name: external-secrets
      namespace: external-secrets
      chart:
        repository: https://charts.external-secrets.io
        name: external-secrets
        version: 0.10.4
      placement:
        matchLabels:
          cluster-type: workload

  apps:
    - name: myapp
      namespace: myapp
      team: team-a
      images: [ghcr.io/example/myapp]
      placement: {}       # empty selector: every cluster
      versions:           # the tag each environment's overlay starts with
        dev: v1.2.3
        staging: v1.2.2
        prod: v1.2.2
      automation:         # new builds reach dev from the registry; later environments by promote
        environments: [dev]
        policy:
          semver: ">=1.0.0"
        interval: 5m
"""


def example_fleet_yaml() -> str:
    clusters = "".join(
        _CLUSTER.format(env=env, region=region, cost=COST_CENTERS[env])
        for env in ENVIRONMENTS
        for region in REGIONS
    )
    return _HEAD + clusters + _TAIL


MINIMAL_FLEET_YAML = """\
# fleet.yaml: declare environments, clusters, platform components and apps; then run
# `fluxfleet generate`. See `fluxfleet init --example` for a complete fleet.
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: my-fleet
spec:
  source:
    url: ssh://git@github.com/my-org/my-fleet.git
    branch: main
  environments:
    - name: dev
  clusters:
    - name: dev-local
      labels:
        environment: dev
        region: local
  platform: []
  apps: []
"""
