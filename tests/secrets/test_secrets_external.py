"""External Secrets scaffolding and the ExternalSecret / SealedSecret reference rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.check.context import CheckOptions, ClusterContext
from fluxfleet.check.rules.secrets_sops import external_secret_store, sealed_secret_namespace
from fluxfleet.objects import K8sObject, Provenance
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender


def _ctx(objects: list[K8sObject], repo: Path | None = None) -> ClusterContext:
    ks = KustomizationRender("apps", "flux-system", {}, KsStatus.rendered, objects=tuple(objects))
    return ClusterContext(ClusterRender("c1", "clusters/c1", kustomizations=(ks,)), CheckOptions(repo=repo))


def _obj(body: dict[str, Any], file: str | None = None) -> K8sObject:
    return K8sObject.of(body, Provenance(file=file))


def _es(store: str, kind: str | None = "ClusterSecretStore", ns: str = "web") -> K8sObject:
    ref = {"name": store, **({"kind": kind} if kind else {})}
    return _obj(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {"secretStoreRef": ref, "data": [{"secretKey": "p", "remoteRef": {"key": "k"}}]},
        }
    )


def _store(kind: str, name: str, ns: str | None = None, conditions: list[Any] | None = None) -> K8sObject:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    spec: dict[str, Any] = {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}}
    if conditions is not None:
        spec["conditions"] = conditions
    return _obj({"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta, "spec": spec})


def test_external_secret_store_references() -> None:
    aws = _store("ClusterSecretStore", "aws")
    local = _store("SecretStore", "local", "web")
    ok = [_es("aws"), _es("local", kind=None)]
    ctx = _ctx([aws, local, *ok])
    assert [v for o in ok for v in external_secret_store(o, ctx)] == []
    missing = _es("vault")
    [v] = external_secret_store(missing, _ctx([aws, missing]))
    assert "ClusterSecretStore 'vault' is not on this cluster" in v.message
    other_ns = _es("local", kind="SecretStore", ns="api")
    [v] = external_secret_store(other_ns, _ctx([local, other_ns]))
    assert "not in namespace 'api'" in v.message
    fenced = _store("ClusterSecretStore", "aws", conditions=[{"namespaces": ["payments"]}])
    es = _es("aws")
    [v] = external_secret_store(es, _ctx([fenced, es]))
    assert "does not serve namespace 'web'" in v.message


def _sealed(ns: str | None, name: str = "db", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": meta,
        "spec": {"encryptedData": {"p": "AgB..."}},
    }


def test_sealed_secret_must_stay_in_its_namespace(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps/sealed.yaml").write_text(yamlio.dump(_sealed("web")))
    rendered_ok = _obj(_sealed("web"), "apps/sealed.yaml")
    assert list(sealed_secret_namespace(rendered_ok, _ctx([rendered_ok], tmp_path))) == []
    moved = _obj(_sealed("api"), "apps/sealed.yaml")  # an overlay's `namespace: api` moved it
    [v] = sealed_secret_namespace(moved, _ctx([moved], tmp_path))
    assert "sealed for namespace 'web' but is deployed to 'api'" in v.message
    renamed = _obj(_sealed("web", name="prefix-db"), "apps/sealed.yaml")
    [v] = sealed_secret_namespace(renamed, _ctx([renamed], tmp_path))
    assert "bound to its name" in v.message
    wide = _sealed("web", annotations={"sealedsecrets.bitnami.com/cluster-wide": "true"})
    (tmp_path / "apps/wide.yaml").write_text(yamlio.dump(wide))
    moved_wide = _obj({**wide, "metadata": {**wide["metadata"], "namespace": "api"}}, "apps/wide.yaml")
    assert list(sealed_secret_namespace(moved_wide, _ctx([moved_wide], tmp_path))) == []
    (tmp_path / "apps/nons.yaml").write_text(yamlio.dump(_sealed(None)))
    no_ns = _obj(_sealed("web"), "apps/nons.yaml")
    [v] = sealed_secret_namespace(no_ns, _ctx([no_ns], tmp_path))
    assert "has no namespace in git" in v.message


def test_add_secret_store_and_external_secret(repo: Path, run) -> None:
    assert run("generate", "-C", str(repo))[0] == 0
    overlay = repo / "apps/web/overlays/dev/kustomization.yaml"
    overlay.write_text("# my overlay\n" + overlay.read_text())
    code, _, err = run(
        "add", "secret-store", "aws", "--provider", "aws", "--region", "eu-west-1", "-C", str(repo)
    )
    assert code == 0, err
    store = yamlio.load_file(repo / "platform/secret-stores/aws.yaml")[0]
    assert store["kind"] == "ClusterSecretStore" and store["spec"]["provider"]["aws"]["region"] == "eu-west-1"
    assert yamlio.load_file(repo / "platform/secret-stores/kustomization.yaml")[0]["resources"] == [
        "aws.yaml"
    ]
    code, _out, err = run(
        "add",
        "external-secret",
        "db",
        "--app",
        "web",
        "--env",
        "dev",
        "--store",
        "aws",
        "--data",
        "password=prod/db#password",
        "--refresh",
        "30m",
        "-C",
        str(repo),
    )
    assert code == 0, err
    assert "no ClusterSecretStore" not in err  # the store exists
    es = yamlio.load_file(repo / "apps/web/overlays/dev/db.externalsecret.yaml")[0]
    assert es["metadata"] == {"name": "db", "namespace": "web"}
    assert es["spec"]["refreshInterval"] == "30m"
    assert es["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "prod/db", "property": "password"}}
    ]
    text = overlay.read_text()
    assert text.startswith("# my overlay") and "db.externalsecret.yaml" in text
    # never overwritten; bad input is a clear error
    assert (
        run(
            "add",
            "external-secret",
            "db",
            "--app",
            "web",
            "--env",
            "dev",
            "--store",
            "aws",
            "--data",
            "p=k",
            "-C",
            str(repo),
        )[0]
        == 2
    )
    code, _, err = run("add", "secret-store", "v", "--provider", "vault", "-C", str(repo))
    assert code == 2 and "--server" in err
    code, _, err = run(
        "add",
        "external-secret",
        "x",
        "--app",
        "web",
        "--env",
        "dev",
        "--store",
        "aws",
        "--data",
        "nope",
        "-C",
        str(repo),
    )
    assert code == 2 and "SECRET_KEY=REMOTE_KEY" in err


def test_external_secret_naming_a_missing_store_warns(repo: Path, run) -> None:
    assert run("generate", "-C", str(repo))[0] == 0
    assert (
        run("add", "secret-store", "aws", "--provider", "aws", "--region", "eu-west-1", "-C", str(repo))[0]
        == 0
    )
    args = ["add", "external-secret", "db", "--app", "web", "--env", "dev", "--data", "p=k", "-C", str(repo)]
    code, _, err = run(*args, "--store", "awz")
    assert code == 0 and "no ClusterSecretStore named 'awz'" in err and "did you mean `aws`?" in err
