"""Synthetic fleets for benchmarks: N clusters x M apps, written as a fleet.yaml."""

from __future__ import annotations

from pathlib import Path

ENVS = ("dev", "staging", "prod")


def fleet_yaml(clusters: int, apps: int, *, components: int = 4) -> str:
    lines = [
        "apiVersion: fluxfleet.dev/v1alpha1",
        "kind: Fleet",
        "metadata: {name: synthetic}",
        "spec:",
        "  source: {url: 'https://example.com/fleet.git'}",
        "  environments: [{name: dev}, {name: staging}, {name: prod}]",
        "  clusters:",
    ]
    for i in range(clusters):
        env = ENVS[i % 3]
        lines.append(
            f"    - {{name: c{i:04d}, labels: {{environment: {env}, region: r{i // 3:04d}, "
            f"cluster-type: workload, tier: t{i % 5}}}}}"
        )
    lines.append("  platform:")
    for j in range(components):
        lines.append(f"    - {{name: comp{j}, namespace: comp{j}}}")
    lines.append("  apps:")
    for k in range(apps):
        lines.append(
            f"    - {{name: app{k:02d}, namespace: app{k:02d}, images: [ghcr.io/example/app{k:02d}], "
            f"versions: {{dev: v1.0.{k}, staging: v1.0.{k}, prod: v1.0.{k}}}, "
            f"placement: {{matchExpressions: [{{key: tier, operator: NotIn, values: [t{k % 5}]}}]}}}}"
        )
    return "\n".join(lines) + "\n"


def write_fleet(root: Path, clusters: int, apps: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "fleet.yaml").write_text(fleet_yaml(clusters, apps))
    return root


def example_fleet_yaml(clusters: int) -> str:
    """The built-in example fleet (`fluxfleet init --example`) with its clusters repeated to ``clusters``.

    This is the shape `generate` gives a real fleet: every cluster its own folder of plain resources.
    """
    from fluxfleet.fleet.example import example_fleet_yaml as example

    text = example()
    head, rest = text.split("  clusters:\n", 1)
    tail = rest[rest.index("\n  # Platform components") :]
    envs = ("dev", "staging", "prod")
    lines = ["  clusters:"]
    for i in range(clusters):
        env = envs[i % 3]
        region = "us-west-2" if i < 3 else f"r{i:05d}"  # the prod canary wave selects us-west-2
        lines += [
            f"    - name: {env}-c{i:05d}",
            "      labels:",
            f"        environment: {env}",
            f"        region: {region}",
            "        cluster-type: workload",
            "        team: platform",
            "        cost-center: cc-1",
            "      vars:",
            f"        DOMAIN: {region}.{env}.example.com",
        ]
    return head + "\n".join(lines) + "\n" + tail


def write_example_fleet(root: Path, clusters: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "fleet.yaml").write_text(example_fleet_yaml(clusters))
    return root
