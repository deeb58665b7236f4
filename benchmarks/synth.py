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
