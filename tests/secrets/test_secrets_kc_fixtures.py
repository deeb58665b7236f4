"""kustomize-controller's own SOPS test data, decrypted in place with its keys (../shared/fixtures/sops)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.secrets.files import read_sops_file
from fluxfleet.secrets.sopsdoc import has_marker, is_plaintext_secret, sops_info
from fluxfleet.secrets.status import document_problems

KC_RECIPIENT = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"


@pytest.fixture(scope="module")
def sops_dir(shared_dir: Path) -> Path:
    path = shared_dir / "fixtures" / "sops"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.mark.parametrize(
    ("rel", "key", "expected"),
    [
        ("algorithms/age.yaml", "age.txt", {"key": "value"}),
        ("patches/merge1.yaml", "age.txt", {"key": "merge1"}),
        ("patches/merge2.yaml", "age.txt", {"merge2": "merge2"}),
        ("global/secret.yaml", "age-global.txt", {"key": "global-value"}),
        ("algorithms/age-pq.yaml", "age-pq.txt", {"key": "value"}),
    ],
)
def test_yaml_fixtures_decrypt_with_their_key(
    sops_dir: Path, run, rel: str, key: str, expected: dict[str, str]
) -> None:
    code, out, err = run(
        "secrets", "decrypt", str(sops_dir / rel), "-k", str(sops_dir / "keys" / key), "-C", str(sops_dir)
    )
    assert code == 0, err
    assert yamlio.load_all(out)[0]["stringData"] == expected


@pytest.mark.parametrize(("rel", "expected"), [("files/file.txt", "value"), ("envs/env.env", "key=value")])
def test_generator_inputs_decrypt(sops_dir: Path, run, rel: str, expected: str) -> None:
    code, out, err = run(
        "secrets",
        "decrypt",
        str(sops_dir / rel),
        "-k",
        str(sops_dir / "keys" / "age.txt"),
        "-C",
        str(sops_dir),
    )
    assert code == 0, err
    assert out.strip() == expected


@pytest.mark.parametrize(
    ("rel", "key", "message"),
    [
        ("algorithms/age.yaml", "age-global.txt", "wrong key"),
        ("algorithms/pgp.yaml", "age.txt", "can open this file"),
        ("algorithms/vault.yaml", "age.txt", "not encrypted with sops"),
    ],
)
def test_fixture_errors_are_clear(sops_dir: Path, run, rel: str, key: str, message: str) -> None:
    code, out, err = run(
        "secrets", "decrypt", str(sops_dir / rel), "-k", str(sops_dir / "keys" / key), "-C", str(sops_dir)
    )
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_metadata_is_read_without_a_key(sops_dir: Path) -> None:
    for rel, file_type in (
        ("algorithms/age.yaml", "yaml"),
        ("envs/env.env", "dotenv"),
        ("files/file.txt", "binary"),
    ):
        found = read_sops_file(sops_dir, rel)
        assert found is not None and found.file_type == file_type
        assert found.info.recipients == (KC_RECIPIENT,)
    pgp = read_sops_file(sops_dir, "algorithms/pgp.yaml")
    assert pgp is not None and pgp.info.other_keys == ("pgp",) and pgp.info.recipients == ()
    assert read_sops_file(sops_dir, "algorithms/vault.yaml") is None


def test_plaintext_detection_on_fixtures(sops_dir: Path) -> None:
    vault = yamlio.load_file(sops_dir / "algorithms" / "vault.yaml")[0]
    assert is_plaintext_secret(vault)
    assert [p.kind for p in document_problems(vault, {})] == ["plaintext"]
    # a Secret whose data value is itself a SOPS document is what kustomize-controller decrypts per value
    inside = yamlio.load_file(sops_dir / "inside" / "secret.yaml")[0]
    assert not is_plaintext_secret(inside) and document_problems(inside, {}) == []
    age = yamlio.load_file(sops_dir / "algorithms" / "age.yaml")[0]
    info = sops_info(age)
    assert info is not None and info.encrypted and info.encrypted_regex == "^(data|stringData)$"
    assert document_problems(age, {"dev": (KC_RECIPIENT,)}) == []
    [problem] = document_problems(
        age, {"prod": ("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",)}
    )
    assert problem.kind == "missing-recipients" and "prod" in problem.message
    assert has_marker((sops_dir / "envs" / "env.env").read_bytes())


def test_key_file_recipients_and_bad_key_files(sops_dir: Path, tmp_path: Path) -> None:
    from fluxfleet.errors import FleetError
    from fluxfleet.secrets.recipients import read_key_file, recipient_error

    assert read_key_file(sops_dir / "keys" / "age.txt").recipients == (KC_RECIPIENT,)
    bad = tmp_path / "bad.agekey"
    bad.write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    with pytest.raises(FleetError) as exc:
        read_key_file(bad)
    assert "malformed age identity" in str(exc.value) and "NOTAKEY" not in str(exc.value)
    assert recipient_error(KC_RECIPIENT) is None
    assert "not a valid age recipient" in str(recipient_error("age1notvalid"))
    assert "not an age recipient" in str(recipient_error("ssh-dss AAAA"))
