"""Flux Operator ResourceSets: Go templates (``if``/``range``/``with``) and ``inputsFrom`` providers."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.render.gotemplate import TemplateError, execute
from fluxfleet.render.model import KsStatus

from .helpers import cluster_repo, objects, one

TEMPLATE = """\
<<- range $i, $app := inputs.apps >>
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: << inputs.tenant | slugify >>-<< $app.name >>
  namespace: << inputs.provider.namespace | default "none" >>
data:
  index: << $i | quote >>
  id: << inputs.id | quote >>
  <<- if $app.public >>
  exposure: public
  <<- else if eq $app.name "db" >>
  exposure: internal
  <<- else >>
  exposure: private
  <<- end >>
<<- end >>
"""


def _provider(name: str, labels: dict[str, str], type_: str = "Static", **values: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "ResourceSetInputProvider",
        "metadata": {"name": name, "namespace": "tenants", "labels": labels},
        "spec": {"type": type_, "defaultValues": values},
    }


def _rset(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "ResourceSet",
        "metadata": {"name": name, "namespace": "tenants"},
        "spec": spec,
    }


def test_templates_and_static_providers_from_the_render(tmp_path: Path) -> None:
    apps = [
        {"name": "web", "public": True},
        {"name": "db", "public": False},
        {"name": "jobs", "public": False},
    ]
    providers = [
        _provider("team-a", {"tier": "gold"}, tenant="Team A", apps=apps),
        _provider("team-b", {"tier": "gold"}, tenant="Team B", apps=apps[:1]),
        _provider("team-c", {"tier": "bronze"}, tenant="Team C", apps=apps),
        _provider("prs", {}, type_="GitHubPullRequest"),
    ]
    sets = [
        _rset(
            "by-label",
            inputsFrom=[{"kind": "ResourceSetInputProvider", "selector": {"matchLabels": {"tier": "gold"}}}],
            resourcesTemplate=TEMPLATE,
        ),
        _rset(
            "inline",
            inputs=[{"tenant": "x", "flag": True}, {"tenant": "y", "flag": False}],
            resources=[
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "flag-<< inputs.tenant >>", "namespace": "tenants"},
                    "data": {
                        "on": "<< if inputs.flag >>yes<< else >>no<< end >>",
                        "q": "<< inputs.tenant | quote >>",
                    },
                },
                {  # the same object twice: the first wins
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "flag-<< inputs.tenant >>", "namespace": "tenants"},
                    "data": {"on": "duplicate"},
                },
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": "off-<< inputs.tenant >>",
                        "namespace": "tenants",
                        "annotations": {"fluxcd.controlplane.io/reconcile": "disabled"},
                    },
                },
            ],
        ),
        _rset("live", inputsFrom=[{"kind": "ResourceSetInputProvider", "name": "prs"}], resources=[]),
        _rset("bad", inputs=[{"a": 1}], resourcesTemplate="<< inputs.missing >>"),
    ]
    render = one(cluster_repo(tmp_path / "repo", {"providers.yaml": providers, "sets.yaml": sets}))
    objs = objects(render)
    web = objs["ConfigMap/tenants/team-a-web"]
    assert web["data"] == {"index": "0", "id": str(zlib.adler32(b"team-a")), "exposure": "public"}
    assert objs["ConfigMap/tenants/team-a-db"]["data"]["exposure"] == "internal"
    assert objs["ConfigMap/tenants/team-a-jobs"]["data"]["exposure"] == "private"
    assert "ConfigMap/tenants/team-b-web" in objs and "ConfigMap/tenants/team-b-db" not in objs
    assert not any(k.startswith("ConfigMap/tenants/team-c") for k in objs)  # not selected
    assert objs["ConfigMap/tenants/flag-x"]["data"] == {"on": "yes", "q": "x"}  # quoted: a plain string
    assert objs["ConfigMap/tenants/flag-y"]["data"]["on"] == "no"
    assert "ConfigMap/tenants/off-x" not in objs
    kss = {k.ref: k for k in render.kustomizations}
    assert kss["ResourceSet/tenants/live"].status is KsStatus.skipped
    assert "GitHubPullRequest" in (kss["ResourceSet/tenants/live"].reason or "")
    assert 'no entry for key "missing"' in (kss["ResourceSet/tenants/bad"].reason or "")


@pytest.mark.parametrize(
    ("template", "want"),
    [
        ("<< range inputs.n >><< . >>,<< end >>", "0,1,2,"),
        ("<< range $k, $v := inputs.m >><< $k >>=<< $v >> << end >>", "a=1 b=2 "),
        ("<< with inputs.m >><< .b >><< else >>none<< end >>", "2"),
        ("<< $x := 5 >><< if and (gt $x 3) (not inputs.f) >>big<< end >>", "big"),
        ("<< range inputs.empty >>x<< else >>empty<< end >>", "empty"),
        ('<< printf "%s/%d" inputs.s 7 | upper >>', "HI/7"),
        ("<< inputs.m | toYaml >>", "a: 1\nb: 2\n"),  # flux-operator's toYaml keeps the newline
        ("a  <<- /* note */ ->>  b", "ab"),
    ],
)
def test_go_template_subset(template: str, want: str) -> None:
    inputs = {"n": 3, "m": {"b": 2, "a": 1}, "f": False, "empty": [], "s": "hi"}
    assert execute(template, inputs) == want


@pytest.mark.parametrize(
    "template", ['<< template "x" >>', "<< now >>", "<< if true >>", "<< inputs.nope >>"]
)
def test_unsupported_or_broken_templates_say_why(template: str) -> None:
    with pytest.raises(TemplateError):
        execute(template, {})
