"""Walking clusters: recursion, cycles, sources, substitution from rendered objects, errors, edits."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.model import KsStatus
from fluxfleet.usecases.fakes import RecordingEngine

from .helpers import by_id, cluster_repo, cm, ks, objects, one, render, write


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_recursion_through_nested_kustomizations(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"apps.yaml": [ks("apps", "./apps")]},
        {
            "apps/kustomization.yaml": "resources: [team.yaml]\n",
            "apps/team.yaml": [ks("team", "./team")],
            "team/cm.yaml": [cm("deep")],
        },
    )
    render = one(repo)
    assert [k.id for k in render.kustomizations] == [
        "flux-system/flux-system",
        "flux-system/apps",
        "flux-system/team",
    ]
    team = by_id(render)["flux-system/team"]
    assert team.parent == "flux-system/apps"
    assert team.file == "apps/team.yaml"
    assert [str(o.key) for o in team.objects] == ["ConfigMap/default/deep"]
    assert team.objects[0].source.file == "team/cm.yaml"


def test_kustomization_cycle_is_reported_not_followed(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"a.yaml": [ks("a", "./a")]},
        {"a/ks.yaml": [ks("b", "./b")], "b/ks.yaml": [ks("a", "./a")]},
    )
    render = one(repo)
    messages = [e.message for e in render.errors]
    assert any("Kustomization cycle" in m and "flux-system/a" in m for m in messages), messages
    assert [k.id for k in render.kustomizations] == [
        "flux-system/flux-system",
        "flux-system/a",
        "flux-system/b",
    ]


def test_self_managed_flux_system_is_not_a_cycle(tmp_path: Path) -> None:
    sync = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "flux-system", "namespace": "flux-system"},
            "spec": {"interval": "1m0s", "url": "https://example.com/repo", "ref": {"branch": "main"}},
        },
        ks("flux-system", "./clusters/prod"),
    ]
    repo = write(
        tmp_path,
        {
            "clusters/prod/flux-system/gotk-sync.yaml": sync,
            "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
            "clusters/prod/cm.yaml": [cm("x")],
        },
    )
    render = one(repo)
    assert render.cluster == "prod"
    assert render.errors == ()
    assert [k.id for k in render.kustomizations] == ["flux-system/flux-system"]
    assert render.kustomizations[0].file == "clusters/prod/flux-system/gotk-sync.yaml"
    assert {"GitRepository/flux-system/flux-system", "ConfigMap/default/x"} <= set(objects(render))


def test_depends_on_missing_and_cycles_are_errors(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {
            "ks.yaml": [
                ks("a", "./empty", dependsOn=[{"name": "b"}]),
                ks("b", "./empty", dependsOn=[{"name": "a"}]),
                ks("c", "./empty", dependsOn=[{"name": "ghost"}]),
            ]
        },
        {"empty/.keep.yaml": "# nothing\n"},
    )
    messages = [e.message for e in one(repo).errors]
    assert any(m.startswith("dependsOn cycle") for m in messages), messages
    assert any("dependsOn flux-system/ghost does not exist" in m for m in messages), messages


def test_errors_are_collected_and_do_not_stop_the_walk(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("broken", "./nowhere"), ks("bad-yaml", "./bad"), ks("fine", "./fine")]},
        {
            "bad/kustomization.yaml": "resources: [missing.yaml]\n",
            "fine/cm.yaml": [cm("ok")],
        },
    )
    render = one(repo)
    kss = by_id(render)
    assert kss["flux-system/broken"].status is KsStatus.failed
    assert kss["flux-system/bad-yaml"].status is KsStatus.failed
    assert kss["flux-system/fine"].status is KsStatus.rendered
    errors = {e.kustomization: e for e in render.errors}
    assert "kustomization path not found: nowhere" in errors["flux-system/broken"].message
    assert errors["flux-system/bad-yaml"].file == "bad/kustomization.yaml"
    assert "kustomize build failed" in errors["flux-system/bad-yaml"].message
    assert all(e.cluster == "test" for e in render.errors)


def test_strict_substitution_fails_the_kustomization_and_no_strict_empties(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("app", "./app", postBuild={"substitute": {"env": "prod"}})]},
        {"app/cm.yaml": [cm("cfg-${env}", host="h-${missing_host}")]},
    )
    strict = by_id(one(repo))["flux-system/app"]
    assert strict.status is KsStatus.failed
    assert strict.objects == ()
    lenient = one(repo, strict=False)
    assert objects(lenient)["ConfigMap/default/cfg-prod"]["data"]["host"] == "h-"
    errors = one(repo).errors
    assert 'variable not set (strict mode): "missing_host"' in errors[0].message


def test_substitute_from_uses_configmaps_rendered_by_other_kustomizations(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {
            # the consumer comes first; its source is produced by the later "vars" Kustomization
            "a-app.yaml": [
                ks(
                    "app",
                    "./app",
                    postBuild={
                        "substitute": {"region": "eu"},
                        "substituteFrom": [
                            {"kind": "ConfigMap", "name": "cluster-vars"},
                            {"kind": "Secret", "name": "only-in-cluster", "optional": True},
                        ],
                    },
                )
            ],
            "b-vars.yaml": [ks("vars", "./vars")],
        },
        {
            "vars/cm.yaml": [cm("cluster-vars", "flux-system", cluster_name="prod-1", region="us")],
            "app/cm.yaml": [cm("app-${cluster_name}", data="${region}")],
        },
    )
    render = one(repo)
    assert render.errors == ()
    app = objects(render)["ConfigMap/default/app-prod-1"]
    assert app["data"]["data"] == "eu"  # inline wins over substituteFrom


def test_unknown_substitute_from_source_keeps_expressions_and_warns(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {
            "ks.yaml": [
                ks(
                    "app",
                    "./app",
                    postBuild={"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]},
                )
            ]
        },
        {"app/cm.yaml": [cm("app", token="${token}")]},
    )
    render = one(repo)
    app = by_id(render)["flux-system/app"]
    assert app.status is KsStatus.rendered
    assert app.objects[0].body["data"]["token"] == "${token}"
    assert "Secret/cluster-secrets" in app.warnings[0]


def test_target_namespace_prefix_and_patch_targets_as_flux_applies_them(tmp_path: Path) -> None:
    patches = [
        {
            "patch": "- op: add\n  path: /data/first\n  value: yes-1\n",
            "target": {"kind": "ConfigMap", "name": "cfg", "namespace": "orig"},
        },
        {
            "patch": "- op: add\n  path: /data/second\n  value: yes-2\n",
            "target": {"kind": "ConfigMap", "name": "p-cfg"},
        },
        {
            "patch": "- op: add\n  path: /data/third\n  value: yes-3\n",
            "target": {"kind": "ConfigMap", "namespace": "target"},
        },
    ]
    rb = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb", "namespace": "orig"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "default", "namespace": "orig"},
            {"kind": "ServiceAccount", "name": "other", "namespace": "orig"},
        ],
    }
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("edit", "./app", targetNamespace="target", namePrefix="p-", patches=patches)]},
        {
            "app/kustomization.yaml": "resources: [all.yaml]\n",
            "app/all.yaml": [
                cm("cfg", "orig", a="b"),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "orig"}},
                rb,
            ],
        },
    )
    objs = objects(one(repo))
    assert "Namespace/target" in objs
    cfg = objs["ConfigMap/target/p-cfg"]
    assert cfg["data"] == {"a": "b", "first": "yes-1"}
    binding = objs["RoleBinding/target/p-rb"]
    assert [s["namespace"] for s in binding["subjects"]] == ["target", "orig"]


def test_spec_images_override_the_overlay(tmp_path: Path) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "ghcr.io/acme/web:1.0", "ports": [{"containerPort": 80}]}
                    ]
                }
            }
        },
    }
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("web", "./web", images=[{"name": "ghcr.io/acme/web", "newTag": "2.0"}])]},
        {
            "web/kustomization.yaml": "resources: [d.yaml]\nimages:\n- name: ghcr.io/acme/web\n  newTag: '1.5'\n  digest: sha256:aaaa\n",
            "web/d.yaml": [deploy],
        },
    )
    body = objects(one(repo))["Deployment/default/web"]
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/web:2.0"
    assert container["ports"][0]["protocol"] == "TCP"  # normalised like server-side apply


def test_remote_bases_and_escaping_paths_are_reported(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("remote", "./remote"), ks("escape", "../../etc")]},
        {"remote/kustomization.yaml": "resources:\n- https://github.com/org/repo//deploy?ref=v1\n"},
    )
    errors = {e.kustomization: e.message for e in one(repo).errors}
    assert errors["flux-system/remote"].startswith("remote bases are not fetched offline")
    assert "escapes the source root" in errors["flux-system/escape"]


def test_render_never_writes_into_the_users_tree(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("app", "./app", namePrefix="x-", targetNamespace="t")]},
        {
            "app/cm.yaml": [cm("a")],
            "app/sub/kustomization.yaml": "resources: [c.yaml]\nnamePrefix: s-\n",
            "app/sub/c.yaml": [cm("c")],
        },
    )
    before = _snapshot(repo)
    render = one(repo)
    assert render.errors == ()
    assert set(objects(render)) >= {"ConfigMap/t/x-a", "ConfigMap/t/x-s-c"}
    assert _snapshot(repo) == before


def test_in_process_plain_builds_match_kustomize(tmp_path: Path) -> None:
    from fluxfleet.render.builder import Builder
    from fluxfleet.render.files import FileTree
    from fluxfleet.render.kustfile import SpecEdits
    from fluxfleet.render.plan import plan_build

    write(
        tmp_path,
        {
            "p/kustomization.yaml": "resources: [b.yaml, sub]\n",
            "p/b.yaml": [
                cm("z", "ns", k="v"),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
            ],
            "p/sub/kustomization.yaml": "resources: [c.yaml]\n",
            "p/sub/c.yaml": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "d", "namespace": "ns"},
                    "spec": {"replicas": 2},
                }
            ],
        },
    )
    tree = FileTree(tmp_path)
    plan = plan_build(tree, "p", SpecEdits())
    assert plan.plain
    with Builder() as builder:
        in_process = builder.submit(tree, "p", SpecEdits()).result()
        plan.plain = False
        real = builder._kustomize(tree, plan, "k" * 64, builder.engine())
    assert in_process.how == "in-process"
    assert real.how == "kustomize"
    assert [o for o, _ in in_process.objects] == [o for o, _ in real.objects]
    assert [f for _, f in in_process.objects] == [f for _, f in real.objects]


def test_persistent_cache_serves_the_second_run(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path / "repo",
        {"ks.yaml": [ks("app", "./app", namePrefix="x-")]},
        {"app/kustomization.yaml": "resources: [cm.yaml]\ncommonLabels: {a: b}\n", "app/cm.yaml": [cm("a")]},
    )
    engines = [RecordingEngine.wrapping() for _ in range(3)]
    options = [RenderOptions(cache_dir=tmp_path / "cache", engine=e) for e in engines]
    with RenderSession(options[0]) as first:
        cold = first.render(repo)
    with RenderSession(options[1]) as second:
        warm = second.render(repo)
    assert len(engines[0].builds) >= 1 and engines[1].builds == []  # served by the cache
    assert objects(cold[0]) == objects(warm[0])
    (repo / "app/cm.yaml").write_text((repo / "app/cm.yaml").read_text().replace("name: a", "name: b"))
    with RenderSession(options[2]) as third:
        changed = third.render(repo)
    assert len(engines[2].builds) == 1
    assert "ConfigMap/default/x-b" in objects(changed[0])


def test_identical_builds_across_clusters_run_once(tmp_path: Path) -> None:
    files: dict[str, Any] = {
        "shared/kustomization.yaml": "resources: [cm.yaml]\ncommonLabels: {tier: web}\n",
        "shared/cm.yaml": [cm("shared")],
    }
    for i in range(5):
        files[f"clusters/c{i}/flux-system/gotk-sync.yaml"] = "# placeholder\n"
        files[f"clusters/c{i}/app.yaml"] = [ks("app", "./shared")]
    repo = write(tmp_path, files)
    engine = RecordingEngine.wrapping()
    with RenderSession(RenderOptions(use_cache=False, engine=engine)) as session:
        renders = session.render(repo)
    assert len(renders) == 5
    assert len(engine.builds) == 1
    assert all(objects(r)["ConfigMap/default/shared"]["metadata"]["labels"]["tier"] == "web" for r in renders)


def test_resourceset_with_static_inputs_is_expanded_and_walked(tmp_path: Path) -> None:
    rset = {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "ResourceSet",
        "metadata": {"name": "tenants", "namespace": "flux-system"},
        "spec": {
            "inputs": [{"tenant": "team1", "replicas": 2}, {"tenant": "team2", "replicas": 3}],
            "resources": [
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {"name": "app-<< inputs.tenant >>", "namespace": "flux-system"},
                    "spec": {
                        "interval": "10m",
                        "path": "./tenants/<< inputs.tenant >>",
                        "prune": True,
                        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "<< inputs.tenant >>", "namespace": "default"},
                    "data": {"replicas": "<< inputs.replicas | quote >>"},
                },
            ],
        },
    }
    dynamic = {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "ResourceSet",
        "metadata": {"name": "previews", "namespace": "flux-system"},
        "spec": {"inputsFrom": [{"kind": "ResourceSetInputProvider", "name": "prs"}], "resources": []},
    }
    repo = cluster_repo(
        tmp_path,
        {"rset.yaml": [rset, dynamic]},
        {"tenants/team1/cm.yaml": [cm("t1")], "tenants/team2/cm.yaml": [cm("t2")]},
    )
    render = one(repo)
    kss = {k.ref: k for k in render.kustomizations}
    assert kss["ResourceSet/flux-system/tenants"].status is KsStatus.rendered
    assert kss["Kustomization/flux-system/app-team2"].status is KsStatus.rendered
    assert objects(render)["ConfigMap/default/team2"]["data"]["replicas"] == "3"
    assert "ConfigMap/default/t1" in objects(render)
    assert kss["ResourceSet/flux-system/previews"].status is KsStatus.skipped
    assert "inputsFrom" in (kss["ResourceSet/flux-system/previews"].reason or "")


def test_suspended_kustomization_is_listed_as_skipped(tmp_path: Path) -> None:
    repo = cluster_repo(tmp_path, {"ks.yaml": [ks("app", "./app", suspend=True)]}, {"app/cm.yaml": [cm("a")]})
    app = by_id(render(repo)[0])["flux-system/app"]
    assert app.status is KsStatus.skipped
    assert "suspend" in (app.reason or "")


def test_shared_builds_are_never_mutated_by_one_clusters_substitution(tmp_path: Path) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "x", "env": [{"name": "C", "value": "${cluster}"}]}]
                }
            }
        },
    }
    files: dict[str, Any] = {
        "shared/kustomization.yaml": "resources: [d.yaml]\ncommonLabels: {tier: web}\n",
        "shared/d.yaml": [deploy],
    }
    for name in ("one", "two", "three"):
        files[f"clusters/{name}/flux-system/gotk-sync.yaml"] = "# placeholder\n"
        files[f"clusters/{name}/app.yaml"] = [
            ks("app", "./shared", postBuild={"substitute": {"cluster": name}})
        ]
    renders = render(write(tmp_path, files))
    for r in renders:
        body = objects(r)["Deployment/default/web"]
        assert body["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == r.cluster
        assert body["metadata"]["labels"]["tier"] == "web"


def test_only_kustomize_runs_in_the_pool_and_parses_belong_to_the_session(tmp_path: Path) -> None:
    import os

    from fluxfleet.render import files
    from fluxfleet.render.engine import build_env

    repo = cluster_repo(
        tmp_path,
        {"ks.yaml": [ks("app", "./app", namePrefix="x-")]},
        {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": [cm("a")]},
    )
    with RenderSession(RenderOptions(use_cache=False)) as first:
        first.render(repo)
        assert first.builder.stats["in-process"] >= 1 and first.builder.stats["kustomize"] == 1
        assert first.parsed  # every parse landed in this session's memo ...
    with RenderSession(RenderOptions(use_cache=False)) as second:
        assert second.parsed == {}  # ... and a new session starts empty: no process-wide cache
    assert not hasattr(files, "_PARSED")
    env = build_env()  # kustomize runs with Go's collector held back unless the user set it
    user_set = "GOGC" in os.environ or "GOMEMLIMIT" in os.environ
    assert env.get("GOGC") == (os.environ.get("GOGC") if user_set else "off")
