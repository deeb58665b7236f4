"""keygen, encrypt and decrypt against the real sops binary and pyrage keys."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.fleet.load import load_fleet


def _sops_decrypt(sops_bin: str, path: Path, key: Path) -> str:
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key)}
    env.pop("SOPS_AGE_KEY", None)
    out = subprocess.run(
        [sops_bin, "--disable-version-check", "decrypt", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_keygen_writes_private_key_0600_and_recipient_to_fleet(repo: Path, keys: Path, run) -> None:
    key = keys / "dev.agekey"
    code, out, err = run("secrets", "keygen", "--env", "dev", "--key-file", str(key), "-C", str(repo))
    assert code == 0, err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = key.read_text()
    assert text.count("AGE-SECRET-KEY-1") == 1
    recipient = next(line.split(": ")[1] for line in text.splitlines() if line.startswith("# public key"))
    fleet = load_fleet(repo)
    assert fleet.secrets.age_recipients == {"dev": (recipient,)}
    # comment-preserving edit: the user's comments survive
    fleet_text = (repo / "fleet.yaml").read_text()
    assert "# the test fleet" in fleet_text and "- name: dev   # first" in fleet_text
    assert f"--from-file=age.agekey={key}" in out
    assert "kubectl create secret generic sops-age --namespace=flux-system" in out
    assert "AGE-SECRET-KEY" not in out + err  # the private key is never printed


def test_keygen_adds_second_recipient_and_replace(repo: Path, keys: Path, run) -> None:
    for name in ("a", "b"):
        assert run("secrets", "keygen", "-e", "dev", "-k", str(keys / name), "-C", str(repo))[0] == 0
    assert len(load_fleet(repo).secrets.age_recipients["dev"]) == 2
    assert run("secrets", "keygen", "-e", "dev", "-k", str(keys / "c"), "--replace", "-C", str(repo))[0] == 0
    assert len(load_fleet(repo).secrets.age_recipients["dev"]) == 1


def test_keygen_refuses_key_inside_repo(repo: Path, run) -> None:
    before = (repo / "fleet.yaml").read_text()
    code, _, err = run(
        "secrets", "keygen", "--env", "dev", "--key-file", str(repo / "keys" / "dev.agekey"), "-C", str(repo)
    )
    assert code == 2
    assert "inside the repository" in err and "Traceback" not in err
    assert not (repo / "keys").exists()
    assert (repo / "fleet.yaml").read_text() == before


def test_keygen_refuses_existing_key_and_unknown_env(repo: Path, keys: Path, run) -> None:
    existing = keys / "old.agekey"
    existing.write_text("keep me\n")
    code, _, err = run("secrets", "keygen", "--env", "dev", "--key-file", str(existing), "-C", str(repo))
    assert code == 2 and "refusing to overwrite" in err
    assert existing.read_text() == "keep me\n"
    code, _, err = run("secrets", "keygen", "--env", "dve", "--key-file", str(keys / "x"), "-C", str(repo))
    assert code == 2 and "dev" in err  # did-you-mean hint
    assert not (keys / "x").exists()


def test_encrypt_in_place_then_real_sops_and_fluxfleet_decrypt(
    keyed_repo: Path, keys: Path, run, write_secret, sops_bin: str
) -> None:
    path = write_secret(keyed_repo, "apps/web/overlays/dev/db.yaml")
    code, out, err = run("secrets", "encrypt", str(path), "-C", str(keyed_repo))
    assert code == 0, err
    assert "dev" in out and "prod" not in out
    text = path.read_text()
    assert "s3cr3t-Value" not in text and "dG9rZW4tdmFsdWU=" not in text
    (doc,) = yamlio.load_all(text)
    # Flux needs apiVersion/kind/metadata in clear; only data/stringData are encrypted
    assert doc["metadata"] == {"name": "db", "namespace": "web"}
    assert doc["type"] == "Opaque"
    assert all(v.startswith("ENC[AES256_GCM,") for v in doc["stringData"].values())
    assert doc["sops"]["encrypted_regex"] == "^(data|stringData)$"
    fleet = load_fleet(keyed_repo)
    assert [a["recipient"] for a in doc["sops"]["age"]] == list(fleet.secrets.age_recipients["dev"])
    # the oracle: the real sops decrypts it with the dev key (and verifies the MAC)
    plain = yamlio.load_all(_sops_decrypt(sops_bin, path, keys / "dev.agekey"))[0]
    assert plain["stringData"] == {"username": "admin", "password": "s3cr3t-Value"}
    assert plain["data"] == {"token": "dG9rZW4tdmFsdWU="}
    code, out, err = run(
        "secrets", "decrypt", str(path), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo)
    )
    assert code == 0, err
    assert yamlio.load_all(out)[0]["stringData"]["password"] == "s3cr3t-Value"


def test_shared_base_is_encrypted_for_every_environment(
    keyed_repo: Path, keys: Path, run, write_secret
) -> None:
    path = write_secret(keyed_repo, "apps/web/base/db.yaml")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    for env in ("dev", "prod"):
        code, out, err = run(
            "secrets", "decrypt", str(path), "-k", str(keys / f"{env}.agekey"), "-C", str(keyed_repo)
        )
        assert code == 0, err
        assert "s3cr3t-Value" in out


def test_wrong_key_is_a_clear_error(keyed_repo: Path, keys: Path, run, write_secret) -> None:
    path = write_secret(keyed_repo, "clusters/dev/eu/db.yaml")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    code, out, err = run(
        "secrets", "decrypt", str(path), "-k", str(keys / "prod.agekey"), "-C", str(keyed_repo)
    )
    assert code == 2
    assert "can open this file" in err and "wrong key" in err
    assert "Traceback" not in err and out == ""


def test_tampered_files_are_clear_errors(keyed_repo: Path, keys: Path, run, write_secret) -> None:
    path = write_secret(keyed_repo, "clusters/dev/eu/db.yaml")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    original = path.read_text()
    lines = original.splitlines()
    # swap two ciphertexts: the AAD (key path) no longer matches
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("username:"))
    j = next(n for n, line in enumerate(lines) if line.strip().startswith("password:"))
    a, b = lines[i].split(": ", 1)[1], lines[j].split(": ", 1)[1]
    lines[i], lines[j] = lines[i].replace(a, b), lines[j].replace(b, a)
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(
        "secrets", "decrypt", str(path), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo)
    )
    assert code == 2 and "tampered" in err and "Traceback" not in err and out == ""
    # edit a clear field: only the MAC notices
    path.write_text(original.replace("name: db", "name: dbx"))
    code, out, err = run(
        "secrets", "decrypt", str(path), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo)
    )
    assert code == 2 and "MAC does not match" in err and out == ""


def test_encrypt_refuses_bad_input_without_echoing_values(keyed_repo: Path, run, write_secret) -> None:
    path = write_secret(
        keyed_repo,
        "clusters/dev/eu/bad.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData:\n  port: 5432\n",
    )
    code, _, err = run("secrets", "encrypt", str(path), "-C", str(keyed_repo))
    assert code == 2 and "stringData.port" in err and "quote" in err
    assert "5432" not in err
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata:\n  k: not-base64!!\n")
    code, _, err = run("secrets", "encrypt", str(path), "-C", str(keyed_repo))
    assert code == 2 and "base64" in err and "not-base64" not in err


def test_encrypt_refuses_already_encrypted_and_unknown_places(keyed_repo: Path, run, write_secret) -> None:
    path = write_secret(keyed_repo, "clusters/dev/eu/db.yaml")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    code, _, err = run("secrets", "encrypt", str(path), "-C", str(keyed_repo))
    assert code == 2 and "already encrypted" in err
    stray = write_secret(keyed_repo, "misc/db.yaml")
    code, _, err = run("secrets", "encrypt", str(stray), "-C", str(keyed_repo))
    assert code == 2 and "--env" in err
    assert run("secrets", "encrypt", str(stray), "--env", "prod", "-C", str(keyed_repo))[0] == 0


def test_encrypt_needs_recipients_for_every_environment(repo: Path, keys: Path, run, write_secret) -> None:
    assert run("secrets", "keygen", "-e", "dev", "-k", str(keys / "dev"), "-C", str(repo))[0] == 0
    path = write_secret(repo, "apps/web/base/db.yaml")
    code, _, err = run("secrets", "encrypt", str(path), "-C", str(repo))
    assert code == 2 and "prod has no age recipient" in err and "keygen --env prod" in err
    assert "s3cr3t-Value" in path.read_text()  # untouched


def test_file_outside_repo_is_refused(keyed_repo: Path, tmp_path: Path, run, write_secret) -> None:
    outside = write_secret(tmp_path, "elsewhere.yaml")
    code, _, err = run("secrets", "encrypt", str(outside), "-C", str(keyed_repo))
    assert code == 2 and "outside the repository" in err


@pytest.mark.parametrize("name", ["app.env", "blob.txt"])
def test_non_yaml_files_are_encrypted_whole(keyed_repo: Path, keys: Path, run, name: str) -> None:
    path = keyed_repo / "clusters" / "dev" / "eu" / name
    path.parent.mkdir(parents=True)
    path.write_text("PASSWORD=hunter2\n")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    assert "hunter2" not in path.read_text()
    code, out, _ = run("secrets", "decrypt", str(path), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo))
    assert code == 0 and "hunter2" in out


def test_status_reports_plaintext_and_recipients(keyed_repo: Path, run, write_secret) -> None:
    path = write_secret(keyed_repo, "apps/web/overlays/dev/db.yaml")
    code, out, _ = run("secrets", "status", "-C", str(keyed_repo))
    assert code == 1 and "plaintext" in out and "s3cr3t-Value" not in out
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    code, out, _ = run("secrets", "status", "-C", str(keyed_repo), "-o", "json")
    assert code == 0 and '"state": "ok"' in out
    # prod-only secret in the dev overlay: not readable by dev's clusters
    other = write_secret(keyed_repo, "apps/web/overlays/dev/other.yaml")
    assert run("secrets", "encrypt", str(other), "--env", "prod", "-C", str(keyed_repo))[0] == 0
    code, out, _ = run("secrets", "status", "-C", str(keyed_repo))
    assert code == 1 and "missing-recipients" in out and "other.yaml" in out
