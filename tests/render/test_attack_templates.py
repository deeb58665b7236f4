"""ResourceSet templates from a hostile pull request: bounded in steps, bytes and time, and with no
function that reads a file or the environment. Real CLI; canaries in the environment and outside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render import gotemplate

from .helpers import cluster_repo

CANARY_ENV = "canary-tmpl-env-6a0b"
CANARY_FILE = "canary-tmpl-file-93fe"

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: t}\ndata: {v: 'VALUE'}\n"

HOSTILE = {
    "nested ranges": "<< range $i := 100000 >><< range $j := 100000 >>a<< end >><< end >>",
    "endless range": "<< range $i := 1000000000000000 >>a<< end >>",
    "doubling list": (
        "<< $x := list 1 >><< range $i := 64 >><< $x = list $x $x >><< end >>"
        + CM.replace("VALUE", "<< toJson $x >>")
    ),
    "doubling string": (
        '<< $s := "aaaaaaaa" >><< range $i := 64 >><< $s = printf "%s%s" $s $s >><< end >>'
        + CM.replace("VALUE", "<< $s >>")
    ),
    "huge indent": CM.replace("VALUE", '<< indent 100000000000000 "x" >>'),
}


def _rset(name: str, template: str) -> dict[str, object]:
    return {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "ResourceSet",
        "metadata": {"name": name, "namespace": "t"},
        "spec": {"resourcesTemplate": template},
    }


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_runaway_template_is_a_bounded_render_error(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", CANARY_ENV)
    repo = cluster_repo(tmp_path / "repo", {"rs.yaml": [_rset("evil", HOSTILE[case])]})
    started = time.monotonic()
    code = main(["build", "-C", str(repo)])
    out, err = capsys.readouterr()
    assert time.monotonic() - started < gotemplate.MAX_SECONDS + 20
    assert code == 1, out + err
    assert "template" in err and ("budget" in err or "steps" in err or "MiB" in err), err
    assert CANARY_ENV not in out + err


def test_no_template_function_reads_files_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text(CANARY_FILE)
    monkeypatch.setenv("CI_JOB_TOKEN", CANARY_ENV)
    for func in ("env", "expandenv", "readFile", "getHostByName", "os.Getenv"):
        assert func not in gotemplate.FUNCS
    for call in ('env "CI_JOB_TOKEN"', 'expandenv "$CI_JOB_TOKEN"', f'readFile "{secret}"'):
        repo = cluster_repo(
            tmp_path / f"repo-{call[:3]}", {"rs.yaml": [_rset("evil", CM.replace("VALUE", f"<< {call} >>"))]}
        )
        code = main(["get", "kustomizations", "-C", str(repo), "-o", "json"])
        out, err = capsys.readouterr()
        assert code == 0 and "is not supported offline" in out, out + err  # listed as not expanded
        assert CANARY_ENV not in out + err and CANARY_FILE not in out + err
