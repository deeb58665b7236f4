"""`secrets seal` and `secrets status` for Sealed Secrets, opened again by an independent decryptor."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from fluxfleet.errors import FleetError
from fluxfleet.secrets.sealing import (
    CERT_ANNOTATION,
    KubesealSealer,
    Scope,
    adopt_kubeseal_output,
    choose_sealer,
    kubeseal_input,
    read_secret,
)
from sealing.certs import key_and_cert
from sealing.unseal import unseal
from usecases.helpers import FLEET_HEAD

PASSWORD = "s3cr3t-Pa55word-xyzzy"
TOKEN = b"\x00\x01binary-token\xff"

FLEET = (
    FLEET_HEAD
    + """\
  environments:
    - name: dev
      sealingCertificate: |
{env_cert}
    - name: prod
  clusters:
    - name: dev-a
      labels: {{environment: dev, region: eu}}
    - name: dev-b
      labels: {{environment: dev, region: us}}
      sealingCertificate: |
{cluster_cert}
    - name: prod-a
      labels: {{environment: prod, region: eu}}
"""
)

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: web
  labels: {{app: web}}
type: Opaque
data:
  token: {base64.b64encode(TOKEN).decode()}
stringData:
  password: {PASSWORD}
"""


def _indent(pem: str) -> str:
    return textwrap.indent(pem, " " * 8).rstrip("\n")


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, str]]:
    return {"env": key_and_cert(), "cluster": key_and_cert(), "soon": key_and_cert(days=10)}


@pytest.fixture
def repo(tmp_path: Path, keys: dict[str, tuple[bytes, str]]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "fleet.yaml").write_text(
        FLEET.format(env_cert=_indent(keys["env"][1]), cluster_cert=_indent(keys["cluster"][1]))
    )
    (tmp_path / "secret.yaml").write_text(SECRET)
    return root


def _seal(repo: Path, *args: str) -> int:
    return main(
        ["secrets", "seal", str(repo.parent / "secret.yaml"), "--sealer", "native", "-C", str(repo), *args]
    )


@pytest.mark.parametrize(
    ("scope", "label"),
    [("strict", b"web/db"), ("namespace-wide", b"web"), ("cluster-wide", b"")],
)
def test_sealed_values_open_with_the_private_key_and_the_scope_label(
    repo: Path,
    keys: dict[str, tuple[bytes, str]],
    capsys: pytest.CaptureFixture[str],
    scope: str,
    label: bytes,
) -> None:
    assert _seal(repo, "--env", "dev", "--scope", scope) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out and base64.b64encode(TOKEN).decode() not in out
    doc = yamlio.load_all(out, "out")[0]
    assert doc["apiVersion"] == "bitnami.com/v1alpha1" and doc["kind"] == "SealedSecret"
    assert doc["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    data = doc["spec"]["encryptedData"]
    assert sorted(data) == ["password", "token"]
    private = keys["env"][0]
    assert unseal(private, data["password"], label) == PASSWORD.encode()
    assert unseal(private, data["token"], label) == TOKEN
    notes = doc["spec"]["template"]["metadata"].get("annotations", {})
    if scope == "strict":
        assert notes == {}
    else:
        assert notes == {f"sealedsecrets.bitnami.com/{scope}": "true"}


@pytest.mark.parametrize(
    ("scope", "wrong"),
    [("strict", b"web/other"), ("strict", b"other/db"), ("strict", b"web"), ("namespace-wide", b"other")],
)
def test_wrong_name_namespace_or_scope_cannot_open(
    repo: Path,
    keys: dict[str, tuple[bytes, str]],
    capsys: pytest.CaptureFixture[str],
    scope: str,
    wrong: bytes,
) -> None:
    assert _seal(repo, "--env", "dev", "--scope", scope) == 0
    data = yamlio.load_all(capsys.readouterr().out, "out")[0]["spec"]["encryptedData"]
    with pytest.raises(ValueError):
        unseal(keys["env"][0], data["password"], wrong)


def test_each_value_has_its_own_session_key(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _seal(repo, "--env", "dev") == 0
    first = yamlio.load_all(capsys.readouterr().out, "out")[0]["spec"]["encryptedData"]
    assert _seal(repo, "--env", "dev") == 0
    second = yamlio.load_all(capsys.readouterr().out, "out")[0]["spec"]["encryptedData"]
    assert first["password"] != second["password"]


def test_cluster_certificate_overrides_the_environment(
    repo: Path, keys: dict[str, tuple[bytes, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _seal(repo, "--env", "dev", "--cluster", "dev-b") == 0
    data = yamlio.load_all(capsys.readouterr().out, "out")[0]["spec"]["encryptedData"]
    assert unseal(keys["cluster"][0], data["password"], b"web/db") == PASSWORD.encode()
    with pytest.raises(ValueError):
        unseal(keys["env"][0], data["password"], b"web/db")


def test_write_into_the_repo_and_status_lists_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _seal(repo, "--env", "dev", "-w", "apps/web/db-sealed.yaml") == 0
    assert "sealed web/db (password, token) for environment dev" in capsys.readouterr().out
    written = (repo / "apps/web/db-sealed.yaml").read_text()
    assert PASSWORD not in written
    assert main(["secrets", "status", "-C", str(repo), "-o", "json"]) == 0
    import json

    sealed = json.loads(capsys.readouterr().out)["sealedSecrets"]
    assert sealed == [
        {
            "path": "apps/web/db-sealed.yaml",
            "name": "db",
            "namespace": "web",
            "scope": "strict",
            "keys": ["password", "token"],
            "certificate": "environment dev",
            "state": "ok",
            "detail": sealed[0]["detail"],
        }
    ]
    assert sealed[0]["detail"].startswith("certificate expires ")


def test_status_warns_about_expiring_and_unknown_certificates(
    repo: Path, keys: dict[str, tuple[bytes, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _seal(repo, "--env", "dev", "-w", "apps/web/old.yaml") == 0
    # the controller renewed its key: fleet.yaml now records a certificate that expires soon
    fleet = (repo / "fleet.yaml").read_text().replace(_indent(keys["env"][1]), _indent(keys["soon"][1]))
    (repo / "fleet.yaml").write_text(fleet)
    assert _seal(repo, "--env", "dev", "-w", "apps/web/new.yaml") == 0
    capsys.readouterr()
    assert main(["secrets", "status", "-C", str(repo)]) == 0
    captured = capsys.readouterr()
    assert "unknown-certificate  apps/web/old.yaml  SealedSecret web/db [strict]" in captured.out
    assert "expiring  apps/web/new.yaml" in captured.out
    assert "apps/web/old.yaml: SealedSecret web/db: sealed with sha256:" in captured.err
    assert "apps/web/new.yaml: SealedSecret web/db: certificate expires" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "prod"], "no sealing certificate for 'prod'"),
        (["--env", "dev", "--cluster", "prod-a"], "is in environment 'prod'"),
        (["--env", "dev", "-w", "../outside.yaml"], "outside"),
        (["--env", "dev", "--sealer", "kubeseal-x"], "unknown sealer"),
    ],
)
def test_bad_requests_are_user_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["secrets", "seal", str(repo.parent / "secret.yaml"), "-C", str(repo), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and PASSWORD not in captured.err + captured.out
    assert not (repo.parent / "outside.yaml").exists()


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n", "expected one Secret"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {a: b}\n", "no namespace"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\ndata: {a: '!!'}\n", "not base64"),
        ("apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\n", "no values"),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\nsops: {}\ndata: {a: YQ==}\n",
            "sops",
        ),
        ("a: [unclosed\n", "secret.yaml"),
    ],
)
def test_bad_secrets_are_located_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], secret: str, message: str
) -> None:
    (repo.parent / "secret.yaml").write_text(secret)
    assert _seal(repo, "--env", "dev") == 2
    assert message in capsys.readouterr().err


def test_a_private_key_in_fleet_yaml_is_refused_with_its_line(
    repo: Path, keys: dict[str, tuple[bytes, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = (
        (repo / "fleet.yaml").read_text().replace(_indent(keys["env"][1]), _indent(keys["env"][0].decode()))
    )
    (repo / "fleet.yaml").write_text(fleet)
    assert _seal(repo, "--env", "dev") == 2
    err = capsys.readouterr().err
    assert "fleet.yaml:10" in err and "private key" in err and "PRIVATE" not in err.replace("private key", "")


def test_kubeseal_command_and_output_adoption(keys: dict[str, tuple[bytes, str]]) -> None:
    # kubeseal is not installed here: its command line, its input and the adoption of its real
    # output shape (as `kubeseal --format yaml` prints it) are tested without running it.
    sealer = KubesealSealer("/usr/local/bin/kubeseal")
    assert sealer.command("/tmp/c.pem", Scope.namespace_wide) == [
        "/usr/local/bin/kubeseal",
        "--cert",
        "/tmp/c.pem",
        "--scope",
        "namespace-wide",
        "--format",
        "yaml",
        "--allow-empty-data",
    ]
    secret = read_secret(yamlio.load_all(SECRET, "s")[0], "s")
    stdin = kubeseal_input(secret)
    assert stdin["data"]["password"] == base64.b64encode(PASSWORD.encode()).decode()
    assert "stringData" not in stdin
    printed = textwrap.dedent("""\
        ---
        apiVersion: bitnami.com/v1alpha1
        kind: SealedSecret
        metadata:
          annotations:
            sealedsecrets.bitnami.com/namespace-wide: "true"
          creationTimestamp: null
          name: db
          namespace: web
        spec:
          encryptedData:
            password: AgBy3i4OJSWK+PiTySYZZA==
          template:
            metadata:
              annotations:
                sealedsecrets.bitnami.com/namespace-wide: "true"
              creationTimestamp: null
              name: db
              namespace: web
            type: Opaque
    """)
    doc = adopt_kubeseal_output(printed, keys["env"][1])
    assert "creationTimestamp" not in doc["metadata"]
    assert "creationTimestamp" not in doc["spec"]["template"]["metadata"]
    assert doc["metadata"]["annotations"][CERT_ANNOTATION].startswith("sha256:")
    with pytest.raises(FleetError):
        adopt_kubeseal_output("kind: Secret\n", keys["env"][1])


def test_kubeseal_requested_but_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert choose_sealer("auto").name == "native"
    with pytest.raises(FleetError, match="kubeseal is not on PATH"):
        choose_sealer("kubeseal")


def test_sealing_cert_records_the_certificate_in_fleet_yaml(
    tmp_path: Path, keys: dict[str, tuple[bytes, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    plain = FLEET.format(env_cert="", cluster_cert="").replace("      sealingCertificate: |\n\n", "")
    (repo / "fleet.yaml").write_text("# my comment\n" + plain)
    cert = tmp_path / "cert.pem"
    cert.write_text(keys["env"][1])
    assert main(["secrets", "sealing-cert", str(cert), "--env", "dev", "-C", str(repo)]) == 0
    assert "spec.environments[dev].sealingCertificate" in capsys.readouterr().out
    text = (repo / "fleet.yaml").read_text()
    assert text.startswith("# my comment\n") and "sealingCertificate: |" in text
    assert (
        main(["secrets", "sealing-cert", str(cert), "--env", "prod", "--cluster", "prod-a", "-C", str(repo)])
        == 0
    )
    (tmp_path / "secret.yaml").write_text(SECRET)
    assert _seal(repo, "--env", "prod") == 2  # the environment has none; its cluster does
    assert "pass --cluster" in capsys.readouterr().err
    assert _seal(repo, "--env", "prod", "--cluster", "prod-a") == 0
    data = yamlio.load_all(capsys.readouterr().out, "out")[0]["spec"]["encryptedData"]
    assert unseal(keys["env"][0], data["password"], b"web/db") == PASSWORD.encode()
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(keys["env"][0])
    before = (repo / "fleet.yaml").read_text()
    assert main(["secrets", "sealing-cert", str(key_file), "--env", "dev", "-C", str(repo)]) == 2
    assert "private key" in capsys.readouterr().err
    assert (repo / "fleet.yaml").read_text() == before


def test_check_keeps_its_sealed_secret_rule_on_sealed_output(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from check.helpers import cluster, dump, findings, ks

    assert _seal(repo, "--env", "dev") == 0
    doc = yamlio.load_all(capsys.readouterr().out, "out")[0]
    assert findings(cluster(ks(dump(doc))), "sealed-secret-namespace") == []
    moved = {**doc, "metadata": {**doc["metadata"], "namespace": "other"}}
    got = findings(cluster(ks(dump(moved))), "sealed-secret-namespace")
    assert got and "differs from the namespace it is deployed to" in got[0].message


def test_seal_reads_stdin(
    repo: Path,
    keys: dict[str, tuple[bytes, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET))
    assert (
        main(["secrets", "seal", "-", "--env", "dev", "--sealer", "native", "-o", "json", "-C", str(repo)])
        == 0
    )
    import json

    doc = json.loads(capsys.readouterr().out)
    assert unseal(keys["env"][0], doc["spec"]["encryptedData"]["password"], b"web/db") == PASSWORD.encode()
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * (1024 * 1024 + 5)))
    assert main(["secrets", "seal", "-", "--env", "dev", "-C", str(repo)]) == 2
    assert "not one Secret" in capsys.readouterr().err
