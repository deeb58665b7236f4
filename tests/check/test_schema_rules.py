"""Schema rules: Kubernetes schemas per version, CRDs from the render, Flux structure, no-schema."""

from __future__ import annotations

import pytest

from check.helpers import cluster, dump, findings, hardened_deployment, run, store
from fluxfleet.check.schemas import SchemaStore, openapi_to_jsonschema, resolve_kubernetes_version, validate
from fluxfleet.errors import FleetError

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer"},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "a"},
        "spec": spec,
    }


def test_valid_builtin_object_passes_and_invalid_fails_with_path() -> None:
    assert findings(cluster(dump(hardened_deployment())), "schema") == []
    bad = hardened_deployment()
    bad["spec"]["replicas"] = "two"
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    found = findings(cluster(dump(bad)), "schema")
    messages = " | ".join(f.message for f in found)
    assert "spec.replicas" in messages and "imagePullPolice" in messages
    assert "Kubernetes 1." in messages


def test_crd_in_the_render_validates_its_custom_resources() -> None:
    ok = widget(size=3, port="http", note=None, extra={"anything": [1]})
    assert findings(cluster(dump(WIDGET_CRD, ok)), "schema") == []
    bad = widget(port=8080, colour="red")
    found = findings(cluster(dump(WIDGET_CRD, bad)), "schema")
    text = " | ".join(f.message for f in found)
    assert "size" in text and "colour" in text and "CRD widgets.example.com" in text


def test_unserved_version_of_a_known_kind_is_reported() -> None:
    obj = dict(widget(size=1), apiVersion="example.com/v2")
    found = findings(cluster(dump(WIDGET_CRD, obj)), "schema")
    assert len(found) == 1 and "serves v1" in found[0].message
    dep = dict(hardened_deployment(), apiVersion="apps/v2")
    found = findings(cluster(dump(dep)), "schema")
    assert len(found) == 1 and "not served" in found[0].message


def test_unknown_kinds_are_no_schema_not_passes() -> None:
    found = findings(
        cluster(dump(widget(size=1), widget(size=2) | {"metadata": {"name": "v", "namespace": "a"}})),
        "schema-unknown",
    )
    assert len(found) == 1
    assert "no schema for Widget" in found[0].message and "1 more" in found[0].message
    assert findings(cluster(dump(WIDGET_CRD, widget(size=1))), "schema-unknown") == []


def test_flux_objects_are_validated_strictly_without_rendered_crds() -> None:
    ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "a", "namespace": "flux-system"},
        "spec": {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "r"}},
    }
    assert findings(cluster(dump(ks)), "schema") == []
    # the shipped schema covers it, so the weaker structural check stays silent
    assert findings(cluster(dump(ks)), "flux-structure") == []
    broken = {**ks, "spec": {"interval": "often", "sourceRef": {"kind": "HelmRepository", "name": "r"}}}
    text = " | ".join(f.message for f in findings(cluster(dump(broken)), "schema"))
    assert "prune" in text and "often" in text and "HelmRepository" in text
    assert "Flux CRD shipped with fluxfleet" in text
    # the seed-style field of issue 10: unknown to Flux, so an error even without CRDs in the render
    seed = {**ks, "spec": {**ks["spec"], "kustomize": {"images": [{"name": "x", "newTag": "1"}]}}}
    [finding] = findings(cluster(dump(seed)), "schema")
    assert "kustomize" in finding.message
    hr = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "h", "namespace": "x"},
        "spec": {"interval": "5m"},
    }
    assert findings(cluster(dump(hr)), "schema") == []  # chart-or-chartRef is a CEL rule of the CRD
    assert "chartRef" in findings(cluster(dump(hr)), "flux-structure")[0].message


def test_validate_flux_object_is_callable_on_its_own() -> None:
    from fluxfleet.check.schemas import validate_flux_object

    policy = {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": "p", "namespace": "flux-system"},
        "spec": {"imageRepositoryRef": {"name": "r"}, "policy": {"semver": {"range": ">=1.0.0"}}},
    }
    assert validate_flux_object(policy, store()) == []
    assert validate_flux_object({**policy, "spec": {**policy["spec"], "bogus": 1}}, store())
    assert validate_flux_object({"apiVersion": "v1", "kind": "ConfigMap"}) == [
        "no Flux schema for ConfigMap v1"
    ]


def test_namespace_unset_and_missing() -> None:
    dep = hardened_deployment()
    del dep["metadata"]["namespace"]
    found = findings(cluster(dump(dep)), "namespace-unset")
    assert len(found) == 1 and "no metadata.namespace" in found[0].message
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cluster-scoped"}}
    assert findings(cluster(dump(ns)), "namespace-unset") == []
    found = findings(cluster(dump(hardened_deployment())), "namespace-missing")
    assert len(found) == 1 and "'shop'" in found[0].message
    shop = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert findings(cluster(dump(shop, hardened_deployment())), "namespace-missing") == []


def test_kubernetes_version_selection() -> None:
    assert resolve_kubernetes_version("v1.30.4") == "1.30"
    with pytest.raises(FleetError, match=r"no schemas for Kubernetes 1\.2"):
        resolve_kubernetes_version("1.2")
    with pytest.raises(FleetError, match="invalid Kubernetes version"):
        resolve_kubernetes_version("latest")
    # ValidatingAdmissionPolicy v1 arrived in 1.30: unknown to 1.29 schemas, known to 1.30
    vap = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy"}
    vap["metadata"] = {"name": "p"}
    vap["spec"] = {"validations": [{"expression": "true"}]}
    assert store("1.29").builtin("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") is None
    assert (
        store("1.30").builtin("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") is not None
    )
    assert (
        run(cluster(dump(vap)), ["schema", "schema-unknown"], policy={"kubernetesVersion": "1.30"}).findings
        == []
    )


def test_validators_are_compiled_once_per_kind() -> None:
    s = SchemaStore()
    first = s.builtin("apps", "v1", "Deployment")
    assert first is s.builtin("apps", "v1", "Deployment")
    assert s.crd(WIDGET_CRD, "v1") is s.crd(WIDGET_CRD, "v1")


def test_openapi_translation() -> None:
    schema = openapi_to_jsonschema(
        {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}}, top=True
    )
    import jsonschema_rs

    v = jsonschema_rs.validator_for(schema)
    assert validate(v, {"a": None, "metadata": {}}) == []
    assert validate(v, {"b": 1})[0].message.startswith("Additional properties")
