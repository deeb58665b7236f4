"""Which platform component and app runs on which cluster (label selectors over cluster labels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App, Cluster, Component
from fluxfleet.fleet.selectors import RequirementResult, explain


@dataclass(frozen=True)
class Placement:
    """``placed[workload] = cluster names`` in fleet order, for components then apps."""

    fleet: Fleet
    placed: dict[str, tuple[str, ...]]

    def on(self, cluster: str) -> list[App | Component]:
        return [w for w in self.fleet.workloads if cluster in self.placed[w.name]]

    def components_on(self, cluster: str) -> list[Component]:
        return [c for c in self.fleet.platform if cluster in self.placed[c.name]]

    def apps_on(self, cluster: str) -> list[App]:
        return [a for a in self.fleet.apps if cluster in self.placed[a.name]]

    def warnings(self) -> list[str]:
        out = []
        for w in self.fleet.workloads:
            if not self.placed[w.name]:
                out.append(f"{w.name}: placement {w.placement.describe()} matches no cluster")
        return out

    def matrix(self) -> dict[str, Any]:
        return {
            "clusters": [c.name for c in self.fleet.clusters],
            "workloads": [
                {
                    "name": w.name,
                    "type": "component" if isinstance(w, Component) else "app",
                    "selector": w.placement.describe(),
                    "clusters": list(self.placed[w.name]),
                }
                for w in self.fleet.workloads
            ],
        }


def place(fleet: Fleet) -> Placement:
    placed: dict[str, tuple[str, ...]] = {}
    for w in fleet.workloads:
        placed[w.name] = tuple(c.name for c in fleet.clusters if w.placement.matches(c.labels))
    return Placement(fleet, placed)


@dataclass(frozen=True)
class Explanation:
    workload: str
    cluster: str
    placed: bool
    selector: str
    labels: dict[str, str]
    requirements: list[RequirementResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "cluster": self.cluster,
            "placed": self.placed,
            "selector": self.selector,
            "labels": self.labels,
            "requirements": [r.as_dict() for r in self.requirements],
        }


def explain_placement(workload: App | Component, cluster: Cluster) -> Explanation:
    results = explain(workload.placement, cluster.labels)
    return Explanation(
        workload=workload.name,
        cluster=cluster.name,
        placed=all(r.matched for r in results),
        selector=workload.placement.describe(),
        labels=dict(cluster.labels),
        requirements=results,
    )
