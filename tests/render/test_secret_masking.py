"""Secrets in output: SOPS-encrypted ones marked the way `flux build` marks them, all others masked."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from fluxfleet.diff.compare import compare
from fluxfleet.render.secrets import mask_sops, masked_for_display

from .helpers import cluster_repo, ks, render

CANARY = "canary-sops-1b2c3d-never-print-me"
SOPS_B64 = "KipTT1BTKio="  # base64 of **SOPS**
DOCKER_B64 = "eyJtYXNrIjoiKipTT1BTKioifQ=="  # base64 of {"mask":"**SOPS**"}
MASKED_B64 = base64.b64encode(b"**MASKED**").decode()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _sops(mac: str = "ENC[AES256_GCM,data:abc,type:str]") -> dict[str, Any]:
    return {"mac": mac, "version": "3.9.0", "age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE-----"}]}


def _secrets(extra_key: bool = False, mac: str = "ENC[AES256_GCM,data:abc,type:str]") -> list[dict[str, Any]]:
    encrypted_data = {"password": _b64("ENC[AES256_GCM,data:Zm9v,type:str]")}
    if extra_key:
        encrypted_data["user"] = _b64("ENC[AES256_GCM,data:YmFy,type:str]")
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "plain", "namespace": "default"},
            "stringData": {"password": CANARY},
            "data": {"token": _b64(CANARY)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "encrypted", "namespace": "default"},
            "data": encrypted_data,
            "stringData": {"note": "ENC[AES256_GCM,data:bm90ZQ==,type:str]"},
            "sops": _sops(mac),
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "registry", "namespace": "default"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64("ENC[AES256_GCM,data:cmVn,type:str]")},
            "sops": _sops(mac),
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mixed", "namespace": "default"},
            "data": {"enc": _b64("sops: ENC[AES256_GCM,data:eA==]"), "clear": _b64(CANARY)},
        },
    ]


def _repo(root: Path, **kwargs: Any) -> Path:
    return cluster_repo(
        root,
        {"ks.yaml": [ks("secrets", "./secrets", decryption={"provider": "sops"})]},
        {"secrets/s.yaml": _secrets(**kwargs)},
    )


def test_build_marks_sops_secrets_like_flux_and_masks_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path)
    code = main(["build", "-C", str(repo)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert CANARY not in out + err and _b64(CANARY) not in out + err
    docs = {d["metadata"]["name"]: d for d in yamlio.load_all(out) if d["kind"] == "Secret"}
    encrypted = docs["encrypted"]
    # stringData "**SOPS**" moved into data by the server-side-apply normalisation, as Flux applies it
    assert encrypted["data"] == {"password": SOPS_B64, "note": SOPS_B64}
    assert "sops" not in encrypted and "stringData" not in encrypted
    registry = docs["registry"]
    assert registry["data"] == {".dockerconfigjson": DOCKER_B64} and "sops" not in registry
    assert docs["plain"]["data"] == {"token": MASKED_B64, "password": MASKED_B64}
    # a single SOPS value in an otherwise plain Secret is marked; its plaintext neighbour is masked
    assert docs["mixed"]["data"] == {"enc": SOPS_B64, "clear": MASKED_B64}


def test_mask_sops_placeholders_per_field_and_display_keeps_them() -> None:
    encrypted, registry = _secrets()[1], _secrets()[2]
    registry["stringData"] = {"inline": "ENC[AES256_GCM,data:eA==,type:str]"}
    assert mask_sops(encrypted) and mask_sops(registry)
    assert encrypted["stringData"] == {"note": "**SOPS**"} and "sops" not in encrypted
    assert registry["stringData"] == {"inline": '{"mask":"**SOPS**"}'}
    shown = masked_for_display({**encrypted, "stringData": {**encrypted["stringData"], "extra": CANARY}})
    assert shown["data"] == {"password": SOPS_B64}
    assert shown["stringData"] == {"note": "**SOPS**", "extra": "**MASKED**"}
    assert masked_for_display(registry)["stringData"] == {"inline": '{"mask":"**SOPS**"}'}


def test_diff_compares_only_key_sets_of_sops_secrets(tmp_path: Path) -> None:
    base = render(_repo(tmp_path / "a"))
    reencrypted = render(_repo(tmp_path / "b", mac="ENC[AES256_GCM,data:other,type:str]"))
    result = compare(base, reencrypted)
    assert not result.changed  # new ciphertext, same keys: nothing to apply differently
    grown = render(_repo(tmp_path / "c", extra_key=True))
    (cluster,) = compare(base, grown).clusters
    (change,) = cluster.changes
    assert change.object == "Secret/default/encrypted" and change.action == "changed"
    assert "+  user: '***'" in change.diff
    assert "KipTT1BTKio=" not in change.diff and CANARY not in change.diff
