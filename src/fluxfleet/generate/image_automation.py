"""Flux image automation for the environments that follow the registry (pure: Fleet -> files).

Per app and automated environment, on the environment's first cluster that runs the app (one
writer per environment folder, so two clusters never race to push the same commit):
``ImageRepository`` + ``ImagePolicy`` + ``ImageUpdateAutomation`` at ``image.toolkit.fluxcd.io/v1``
(the version image-reflector/automation-controller v1.x serve and store). The automation writes
only below the app's overlay for that environment, through the setter marker on its ``newTag``.
"""

from __future__ import annotations

import re
from typing import Any

from fluxfleet import yamlio
from fluxfleet.fleet.automation import automated_environments
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App
from fluxfleet.fleet.names import go_duration
from fluxfleet.fleet.placement import Placement
from fluxfleet.generate.layout import FLUX_NAMESPACE, cluster_dirs

IMAGE_API = "image.toolkit.fluxcd.io/v1"
FOLDER = "image-automation"
# cosign signatures, attestations and SBOMs are pushed as tags too; they are never versions
DEFAULT_EXCLUSIONS = ("^.*\\.sig$", "^.*\\.att$", "^.*\\.sbom$")
# The commit subject `versions`/`history` recognise (see AUTOMATION_SUBJECT).
MESSAGE_TEMPLATE = (
    "image automation: update {{ .Values.app }} to "
    "{{ range $i, $c := .Changed.Changes }}{{ if $i }}, {{ end }}{{ $c.NewValue }}{{ end }}"
    " in {{ .Values.environment }}"
)
AUTOMATION_SUBJECT = re.compile(
    r"^image automation: update (?P<app>\S+) to (?P<version>\S+) in (?P<env>\S+)$"
)


def image_of(app: App) -> str | None:
    auto = app.automation
    return (auto.image if auto and auto.image else None) or app.image


def policy_name(app: App) -> str:
    return app.name


def marker(app: App) -> str:
    """The setter comment Flux's ImageUpdateAutomation looks for on a ``newTag`` line."""
    return f'# {{"$imagepolicy": "{FLUX_NAMESPACE}:{policy_name(app)}:tag"}}'


def overlay_path(app: App, env: str) -> str:
    return f"{app.repo_path}/overlays/{env}"


def writer_clusters(fleet: Fleet, placement: Placement, app: App) -> dict[str, str]:
    """Automated environment -> the one cluster that runs its automation for ``app``."""
    out: dict[str, str] = {}
    placed = set(placement.placed.get(app.name, ()))
    for env in automated_environments(app.automation, fleet.env_names):
        first = next((c.name for c in fleet.clusters_in(env) if c.name in placed), None)
        if first is not None:
            out[env] = first
    return out


def automation_objects(fleet: Fleet, app: App, env: str) -> list[dict[str, Any]]:
    auto = app.automation
    image = image_of(app)
    if auto is None or image is None:
        return []
    labels = {"fluxfleet.dev/app": app.name, "fluxfleet.dev/environment": env}
    meta = {"name": policy_name(app), "namespace": FLUX_NAMESPACE, "labels": labels}
    repo_spec: dict[str, Any] = {
        "image": image,
        "interval": go_duration(auto.interval),
        "exclusionList": list(auto.exclusion_list if auto.exclusion_list is not None else DEFAULT_EXCLUSIONS),
    }
    if auto.secret_ref:
        repo_spec["secretRef"] = {"name": auto.secret_ref}
    policy_spec: dict[str, Any] = {
        "imageRepositoryRef": {"name": policy_name(app)},
        "policy": auto.policy.as_spec(),
    }
    if auto.filter_tags:
        tags: dict[str, str] = {"pattern": auto.filter_tags.pattern}
        if auto.filter_tags.extract:
            tags["extract"] = auto.filter_tags.extract
        policy_spec["filterTags"] = tags
    branch = fleet.source.branch
    git: dict[str, Any] = {
        "checkout": {"ref": {"branch": branch}},
        "commit": {
            "author": {"name": auto.author.name, "email": auto.author.email},
            "messageTemplate": MESSAGE_TEMPLATE,
            "messageTemplateValues": {"app": app.name, "environment": env},
        },
        "push": {"branch": auto.push_branch or branch},
    }
    return [
        {"apiVersion": IMAGE_API, "kind": "ImageRepository", "metadata": meta, "spec": repo_spec},
        {"apiVersion": IMAGE_API, "kind": "ImagePolicy", "metadata": meta, "spec": policy_spec},
        {
            "apiVersion": IMAGE_API,
            "kind": "ImageUpdateAutomation",
            "metadata": {**meta, "name": f"{app.name}-{env}"},
            "spec": {
                "interval": go_duration(auto.interval),
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                "git": git,
                "update": {"path": f"./{overlay_path(app, env)}", "strategy": "Setters"},
                "policySelector": {"matchLabels": labels},
            },
        },
    ]


def plan_image_automation(fleet: Fleet, placement: Placement) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Generated files (without header) and the extra folder each writer cluster must include."""
    dirs = cluster_dirs(fleet)
    per_cluster: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for app in fleet.apps:
        for env, cluster in writer_clusters(fleet, placement, app).items():
            docs = automation_objects(fleet, app, env)
            if not docs:
                continue
            files[f"{dirs[cluster]}/{FOLDER}/{app.name}.yaml"] = yamlio.dump_all(docs)
            per_cluster.setdefault(cluster, []).append(f"{app.name}.yaml")
    for cluster, resources in per_cluster.items():
        kust = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(resources),
        }
        files[f"{dirs[cluster]}/{FOLDER}/kustomization.yaml"] = yamlio.dump(kust)
    return files, {c: [FOLDER] for c in per_cluster}


_NEW_TAG = re.compile(r"^(\s*-?\s*newTag:\s*\S+?)\s*(#.*)?$")


def mark_overlay(text: str, app: App) -> str:
    """Add the setter marker to the ``newTag`` line(s) of a freshly scaffolded overlay."""
    out = []
    for line in text.splitlines(keepends=True):
        m = _NEW_TAG.match(line.rstrip("\n"))
        if m and "$imagepolicy" not in line:
            line = f"{m.group(1)} {marker(app)}\n"
        out.append(line)
    return "".join(out)
