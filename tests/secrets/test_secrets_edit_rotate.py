"""edit through $EDITOR (plaintext never left behind) and rotate after key changes, with real sops."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.fleet.load import load_fleet

EDITOR = """\
#!{python}
import os, stat, sys
path = sys.argv[-1]
with open({log!r}, "a") as log:
    log.write(path + " " + oct(stat.S_IMODE(os.stat(path).st_mode)) + " "
              + oct(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)) + "\\n")
{action}
"""

ACTIONS = {
    "change": "t = open(path).read(); open(path, 'w').write(t.replace('s3cr3t-Value', 'n3w-Value'))",
    "fail": "sys.exit(3)",
    "garbage": "open(path, 'w').write('stringData: [unclosed\\n')",
    "noop": "pass",
    "plaintext-type": "t = open(path).read(); open(path, 'w').write(t.replace('username: admin', 'username: 42'))",
}


def _editor(tmp_path: Path, action: str) -> tuple[str, Path]:
    log = tmp_path / f"editor-{action}.log"
    script = tmp_path / f"editor-{action}.py"
    script.write_text(EDITOR.format(python=sys.executable, log=str(log), action=ACTIONS[action]))
    script.chmod(0o755)
    return str(script), log


@pytest.fixture
def encrypted(keyed_repo: Path, run, write_secret) -> Path:
    path = write_secret(keyed_repo, "clusters/dev/eu/db.yaml")
    assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    return path


def _edit(run, monkeypatch, tmp_path: Path, repo: Path, keys: Path, path: Path, action: str):
    editor, log = _editor(tmp_path, action)
    monkeypatch.setenv("EDITOR", editor)
    result = run("secrets", "edit", str(path), "-k", str(keys / "dev.agekey"), "-C", str(repo))
    opened = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return result, opened


def test_edit_changes_one_value_and_keeps_other_ciphertexts(
    keyed_repo: Path, keys: Path, encrypted: Path, run, monkeypatch, tmp_path: Path
) -> None:
    before = yamlio.load_all(encrypted.read_text())[0]
    (code, out, err), opened = _edit(run, monkeypatch, tmp_path, keyed_repo, keys, encrypted, "change")
    assert code == 0, err
    assert "re-encrypted" in out
    # the editor saw a 0600 file in a 0700 directory, both gone now
    [[plain_path, file_mode, dir_mode]] = opened
    assert (file_mode, dir_mode) == ("0o600", "0o700")
    assert not Path(plain_path).exists() and not Path(plain_path).parent.exists()
    after = yamlio.load_all(encrypted.read_text())[0]
    assert after["stringData"]["username"] == before["stringData"]["username"]  # sops' IV stash
    assert after["data"]["token"] == before["data"]["token"]
    assert after["stringData"]["password"] != before["stringData"]["password"]
    assert "n3w-Value" not in encrypted.read_text()
    code, out, _ = run(
        "secrets", "decrypt", str(encrypted), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo)
    )
    assert code == 0 and "n3w-Value" in out and "s3cr3t-Value" not in out


@pytest.mark.parametrize("action", ["fail", "garbage", "plaintext-type"])
def test_failing_edit_leaves_no_plaintext_and_no_change(
    keyed_repo: Path, keys: Path, encrypted: Path, run, monkeypatch, tmp_path: Path, action: str
) -> None:
    original = encrypted.read_bytes()
    (code, _, err), opened = _edit(run, monkeypatch, tmp_path, keyed_repo, keys, encrypted, action)
    assert code == 2 and "Traceback" not in err
    assert "s3cr3t-Value" not in err
    [[plain_path, *_]] = opened
    assert not Path(plain_path).parent.exists()  # the private directory is removed
    assert encrypted.read_bytes() == original
    leftovers = [
        p for p in keyed_repo.rglob("*") if p.is_file() and "s3cr3t-Value" in p.read_text(errors="ignore")
    ]
    assert leftovers == []


def test_edit_without_change_rewrites_nothing(
    keyed_repo: Path, keys: Path, encrypted: Path, run, monkeypatch, tmp_path: Path
) -> None:
    original = encrypted.read_bytes()
    (code, out, _), _ = _edit(run, monkeypatch, tmp_path, keyed_repo, keys, encrypted, "noop")
    assert code == 0 and "no changes" in out
    assert encrypted.read_bytes() == original


def test_edit_without_editor_is_a_clear_error(keyed_repo: Path, encrypted: Path, run, monkeypatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    code, _, err = run("secrets", "edit", str(encrypted), "-C", str(keyed_repo))
    assert code == 2 and "$EDITOR" in err


def test_rotate_after_new_key_adds_recipient_and_new_key_decrypts(
    keyed_repo: Path, keys: Path, encrypted: Path, run
) -> None:
    assert (
        run("secrets", "keygen", "-e", "dev", "-k", str(keys / "dev2.agekey"), "-C", str(keyed_repo))[0] == 0
    )
    # the new key cannot open the file yet
    assert (
        run("secrets", "decrypt", str(encrypted), "-k", str(keys / "dev2.agekey"), "-C", str(keyed_repo))[0]
        == 2
    )
    code, out, _ = run("secrets", "rotate", "--env", "dev", "--dry-run", "-C", str(keyed_repo))
    assert code == 0 and "would rotate" in out and "clusters/dev/eu/db.yaml" in out
    before = encrypted.read_text()
    code, out, err = run(
        "secrets", "rotate", "--env", "dev", "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo)
    )
    assert code == 0, err
    assert "rotated" in out
    after = yamlio.load_all(encrypted.read_text())[0]
    assert len(after["sops"]["age"]) == 2
    assert after["stringData"]["password"] not in before  # new data key: every value re-encrypted
    code, out, _ = run(
        "secrets", "decrypt", str(encrypted), "-k", str(keys / "dev2.agekey"), "-C", str(keyed_repo)
    )
    assert code == 0 and "s3cr3t-Value" in out
    # nothing left to do afterwards
    code, out, _ = run(
        "secrets",
        "rotate",
        "--env",
        "dev",
        "-o",
        "json",
        "-k",
        str(keys / "dev.agekey"),
        "-C",
        str(keyed_repo),
    )
    assert code == 0 and '"action": "unchanged"' in out


def test_rotate_after_replace_removes_old_recipient(
    keyed_repo: Path, keys: Path, encrypted: Path, run
) -> None:
    assert (
        run(
            "secrets",
            "keygen",
            "-e",
            "dev",
            "-k",
            str(keys / "new.agekey"),
            "--replace",
            "-C",
            str(keyed_repo),
        )[0]
        == 0
    )
    code, _, err = run("secrets", "rotate", "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo))
    assert code == 0, err
    doc = yamlio.load_all(encrypted.read_text())[0]
    assert [a["recipient"] for a in doc["sops"]["age"]] == list(
        load_fleet(keyed_repo).secrets.age_recipients["dev"]
    )
    assert (
        run("secrets", "decrypt", str(encrypted), "-k", str(keys / "dev.agekey"), "-C", str(keyed_repo))[0]
        == 2
    )
    assert (
        run("secrets", "decrypt", str(encrypted), "-k", str(keys / "new.agekey"), "-C", str(keyed_repo))[0]
        == 0
    )


def test_rotate_with_wrong_key_writes_nothing(keyed_repo: Path, keys: Path, encrypted: Path, run) -> None:
    assert (
        run("secrets", "keygen", "-e", "dev", "-k", str(keys / "dev2.agekey"), "-C", str(keyed_repo))[0] == 0
    )
    before = encrypted.read_bytes()
    code, _, err = run("secrets", "rotate", "-k", str(keys / "prod.agekey"), "-C", str(keyed_repo))
    assert code == 2 and "wrong key" in err and "Traceback" not in err
    assert encrypted.read_bytes() == before


def test_data_key_rotation_with_several_key_files(keyed_repo: Path, keys: Path, run, write_secret) -> None:
    dev = write_secret(keyed_repo, "clusters/dev/eu/a.yaml")
    prod = write_secret(keyed_repo, "clusters/prod/eu/b.yaml")
    for path in (dev, prod):
        assert run("secrets", "encrypt", str(path), "-C", str(keyed_repo))[0] == 0
    before = {p: p.read_text() for p in (dev, prod)}
    code, out, err = run(
        "secrets",
        "rotate",
        "--data-key",
        "-k",
        str(keys / "dev.agekey"),
        "-k",
        str(keys / "prod.agekey"),
        "-C",
        str(keyed_repo),
    )
    assert code == 0, err
    for path in (dev, prod):
        assert path.read_text() != before[path]
    code, out, _ = run(
        "secrets", "decrypt", str(prod), "-k", str(keys / "prod.agekey"), "-C", str(keyed_repo)
    )
    assert code == 0 and "s3cr3t-Value" in out
