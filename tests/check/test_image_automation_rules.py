"""check rules over image automation objects: registry pinning, write scope, production."""

from __future__ import annotations

from pathlib import Path

from check.helpers import cluster, dump, findings, ks
from fluxfleet import yamlio
from fluxfleet.fleet.load import load_fleet
from fluxfleet.generate.image_automation import automation_objects

RULES = ("image-policy-registry", "image-automation-scope", "image-automation-production")

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: flux-system}
spec:
  imageRepositoryRef: {name: web}
  policy: {semver: {range: ">=1.0.0"}}
"""


def _repo(image: str) -> str:
    return (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        f"metadata: {{name: web, namespace: flux-system}}\nspec: {{image: {image}, interval: 5m}}\n"
    )


def _auto(path: str | None) -> str:
    update = f"{{path: {path}, strategy: Setters}}" if path is not None else "{strategy: Setters}"
    return (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
        "metadata: {name: web-dev, namespace: flux-system}\n"
        "spec:\n  interval: 5m\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
        f"  git: {{commit: {{author: {{email: a@b.c}}}}}}\n  update: {update}\n"
    )


def test_image_policy_must_follow_one_registry() -> None:
    for image, bad in (
        ("ghcr.io/acme/web", False),
        ("localhost:5000/web", False),
        ("acme/web", True),
        ("web", True),
    ):
        render = cluster(ks(_repo(image) + "---\n" + POLICY))
        got = findings(render, "image-policy-registry")
        assert bool(got) is bad, image
        if bad:
            assert "names no registry host" in got[0].message


def test_automation_writes_only_in_its_environment() -> None:
    for path, bad in (
        ("./apps/web/overlays/dev", False),
        ("./apps/web/overlays/staging", True),
        ("./", True),
        (None, True),
        ("./apps/../dev", True),
    ):
        got = findings(cluster(ks(_auto(path))), "image-automation-scope")
        assert bool(got) is bad, path


def test_automation_in_production_is_a_warning() -> None:
    prod = cluster(ks(_auto("./apps/web/overlays/prod")), labels={"environment": "prod", "region": "eu"})
    got = findings(prod, "image-automation-production")
    assert [f.severity.value for f in got] == ["low"]
    assert findings(cluster(ks(_auto("./apps/web/overlays/dev"))), "image-automation-production") == []


def test_generated_objects_pass_the_rules(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec:\n"
        "  source: {url: 'ssh://git@example.com/f.git'}\n  environments: [{name: dev}]\n"
        "  clusters: [{name: dev-eu-1, labels: {environment: dev, region: eu}}]\n"
        "  apps:\n    - name: web\n      namespace: web\n      images: [ghcr.io/acme/web]\n"
        "      automation: {policy: {semver: '>=1'}}\n"
    )
    fleet = load_fleet(tmp_path)
    docs = automation_objects(fleet, fleet.app("web"), "dev")
    render = cluster(ks(dump(*docs)))
    for rule in RULES:
        assert findings(render, rule) == [], rule
    assert yamlio.load_all(dump(*docs))[2]["kind"] == "ImageUpdateAutomation"


def test_markers_must_name_an_image_policy_of_the_cluster(tmp_path: Path) -> None:
    overlay = tmp_path / "apps/web/overlays/dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\nimages:\n- name: ghcr.io/acme/web\n"
        '  newTag: v1 # {"$imagepolicy": "flux-system:web:tag"}\n'
        '- name: ghcr.io/acme/sidecar\n  newTag: v2 # {"$imagepolicy": "flux-system:sidecar:tag"}\n'
    )
    render = cluster(
        ks(_repo("ghcr.io/acme/web") + "---\n" + POLICY + "---\n" + _auto("./apps/web/overlays/dev"))
    )
    got = findings(render, "image-policy-marker", repo=tmp_path)
    assert [(f.file, f.line) for f in got] == [("apps/web/overlays/dev/kustomization.yaml", 6)]
    assert "'flux-system:sidecar:tag'" in got[0].message
    (overlay / "kustomization.yaml").write_text("resources: [../../base]\n")
    got = findings(render, "image-policy-marker", repo=tmp_path)
    assert len(got) == 1 and "holds no $imagepolicy marker" in got[0].message
    # without a repository to read (e.g. a render of another revision) the rule stays silent
    assert findings(render, "image-policy-marker") == []
