"""Is every secret in the repository safe to commit, and encrypted for the environments it reaches?

Pure judgement (:func:`document_problems`) shared by ``secrets status`` and the ``fluxfleet check``
rules, plus a walk over the repository files that applies it using paths (no render needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import Placement
from fluxfleet.secrets.files import MAX_BYTES, read_sops_file, walk_files
from fluxfleet.secrets.scope import scope_of
from fluxfleet.secrets.sopsdoc import (
    SopsInfo,
    encrypted_identity_fields,
    is_plaintext_secret,
    plaintext_leaves,
    sops_info,
)


@dataclass(frozen=True)
class Problem:
    kind: str  # "plaintext", "partial", "flux-incompatible", "missing-recipients", "extra-recipients"
    message: str


def missing_recipients(info: SopsInfo, required: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(r for r in required if r not in info.recipients)


def document_problems(doc: dict[str, Any], required: dict[str, tuple[str, ...]]) -> list[Problem]:
    """Problems of one document. ``required`` maps environment -> recipients it must be readable by.

    Messages name keys and recipients, never values.
    """
    if doc.get("kind") == "Secret" and is_plaintext_secret(doc):
        keys = sorted({*(doc.get("data") or {}), *(doc.get("stringData") or {})})
        return [Problem("plaintext", f"plaintext Secret in git (keys: {', '.join(map(str, keys))})")]
    info = sops_info(doc)
    if info is None or not info.encrypted:
        return []
    out: list[Problem] = []
    clear = plaintext_leaves(doc)
    if clear:
        out.append(Problem("partial", f"values left in clear text: {', '.join(clear)}"))
    exposed = encrypted_identity_fields(doc)
    if exposed:
        out.append(
            Problem(
                "flux-incompatible",
                f"{', '.join(exposed)} encrypted: Flux needs apiVersion, kind and metadata in clear text",
            )
        )
    out.extend(recipient_problems(info, required))
    return out


def recipient_problems(info: SopsInfo, required: dict[str, tuple[str, ...]]) -> list[Problem]:
    out: list[Problem] = []
    for env, recipients in required.items():
        if not recipients:
            out.append(
                Problem("missing-recipients", f"deployed to {env}, which has no age recipient in fleet.yaml")
            )
            continue
        if not any(r in info.recipients for r in recipients):
            out.append(
                Problem(
                    "missing-recipients",
                    f"deployed to {env} but not encrypted for its recipients "
                    f"({', '.join(_short(r) for r in recipients)})",
                )
            )
        elif missing := missing_recipients(info, recipients):
            out.append(
                Problem(
                    "missing-recipients",
                    f"not encrypted for {len(missing)} of {env}'s recipients "
                    f"({', '.join(_short(r) for r in missing)}); run `fluxfleet secrets rotate --env {env}`",
                )
            )
    return out


def _short(recipient: str) -> str:
    return recipient[:12] + "…" if len(recipient) > 16 else recipient


def required_recipients(fleet: Fleet, envs: tuple[str, ...] | list[str]) -> dict[str, tuple[str, ...]]:
    return {env: tuple(fleet.secrets.age_recipients.get(env, ())) for env in envs}


@dataclass(frozen=True)
class FileStatus:
    path: str
    state: str  # "ok" or a Problem kind, or "unscoped"
    envs: tuple[str, ...]
    recipients: tuple[str, ...]
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "state": self.state,
            "environments": list(self.envs),
            "recipients": list(self.recipients),
            "detail": self.detail,
        }


def repo_status(repo: Path, fleet: Fleet, placement: Placement) -> list[FileStatus]:
    """Every sops file and plaintext Secret of the repository, judged by its path's environments."""
    out: list[FileStatus] = []
    for rel in walk_files(repo):
        scope = scope_of(fleet, placement, rel)
        envs = scope.envs if scope else ()
        required = required_recipients(fleet, envs)
        sops_file = read_sops_file(repo, rel)
        if sops_file is not None and sops_file.file_type != "yaml":
            problems = recipient_problems(sops_file.info, required)
            out.append(_status(rel, envs, sops_file.info.recipients, problems, scope is None))
            continue
        if not rel.endswith((".yaml", ".yml")):
            continue
        docs = _docs(repo, rel)
        relevant = [d for d in docs if sops_info(d) is not None or d.get("kind") == "Secret"]
        if not relevant:
            continue
        problems = [p for d in relevant for p in document_problems(d, required)]
        info = sops_info(relevant[0])
        recipients = info.recipients if info else ()
        if info is None and not problems:
            continue  # a Secret without values (or whose values are SOPS documents): nothing to say
        out.append(_status(rel, envs, recipients, problems, scope is None and info is not None))
    return out


def _status(
    rel: str, envs: tuple[str, ...], recipients: tuple[str, ...], problems: list[Problem], unscoped: bool
) -> FileStatus:
    if problems:
        return FileStatus(rel, problems[0].kind, envs, recipients, "; ".join(p.message for p in problems))
    if unscoped:
        return FileStatus(rel, "unscoped", envs, recipients, "not under a cluster, app or component folder")
    return FileStatus(rel, "ok", envs, recipients)


def _docs(repo: Path, rel: str) -> list[dict[str, Any]]:
    path = repo / rel
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        docs = yamlio.load_file(path, rel)
    except FleetError:
        return []
    return [d for d in docs if isinstance(d, dict)]
