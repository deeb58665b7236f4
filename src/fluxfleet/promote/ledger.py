"""The promotion ledger: git trailers written on every promotion, rollback and revert, and the
records read back from them (history, bad versions, when a wave landed).

Trailer keys (all prefixed ``Fluxfleet-``): Action (promote | rollback | revert), App, Env, From,
Version, Previous-Version, Wave (``<name> <i>/<n>``), Clusters (the clusters whose version
changed, comma separated), Approver, Gates (``name=pass|fail|skip|forced`` comma separated), Forced,
Forced-Reason, Skipped-Checks (why the rendered checks were not run), Bad-Version (a rollback marks the version it leaves bad), Reverts (a commit id) and
Checked-On (the head the gates were evaluated against: the commit's parent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.generate.image_automation import AUTOMATION_SUBJECT
from fluxfleet.gitrepo import history
from fluxfleet.gitrepo.git import Git

PREFIX = "Fluxfleet-"
ACTIONS = ("promote", "rollback", "revert")
AUTOMATION_GREP = "image automation: update "


def clean_value(value: str) -> str:
    """One line, no control characters: a trailer value git parses back unchanged."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


@dataclass(frozen=True)
class Record:
    sha: str
    parents: tuple[str, ...]
    author: str
    time: int  # committer time: when it landed on the branch
    subject: str
    action: str
    app: str
    env: str
    version: str | None = None
    previous: str | None = None
    source: str | None = None
    wave: str | None = None
    clusters: tuple[str, ...] = ()
    approver: str | None = None
    gates: dict[str, str] = field(default_factory=dict)
    forced: tuple[str, ...] = ()
    forced_reason: str | None = None
    skipped_checks: str | None = None
    bad_version: str | None = None
    reverts: str | None = None
    checked_on: str | None = None

    @property
    def wave_name(self) -> str | None:
        return self.wave.split(" ", 1)[0] if self.wave else None

    @property
    def final(self) -> bool:
        """The commit wrote the environment's overlay (no wave, or the last one)."""
        if not self.wave:
            return True
        _, _, frac = self.wave.partition(" ")
        index, _, total = frac.partition("/")
        return index == total

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.sha,
            "time": self.time,
            "author": self.author,
            "action": self.action,
            "app": self.app,
            "env": self.env,
            "from": self.source,
            "version": self.version,
            "previousVersion": self.previous,
            "wave": self.wave,
            "clusters": list(self.clusters),
            "approver": self.approver,
            "gates": self.gates,
            "forced": list(self.forced),
            "forcedReason": self.forced_reason,
            "skippedChecks": self.skipped_checks,
            "badVersion": self.bad_version,
            "reverts": self.reverts,
            "checkedOn": self.checked_on,
            "subject": self.subject,
        }


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def record_from(entry: history.LogEntry) -> Record | None:
    def t(key: str) -> str | None:
        return entry.trailer(PREFIX + key)

    action, app, env = t("Action"), t("App"), t("Env")
    if action not in ACTIONS or not app or not env:
        return None
    gates = {}
    for part in _split(t("Gates")):
        name, _, status = part.partition("=")
        gates[name] = status
    return Record(
        sha=entry.sha,
        parents=entry.parents,
        author=entry.author,
        time=entry.commit_time,
        subject=entry.subject,
        action=action,
        app=app,
        env=env,
        version=t("Version"),
        previous=t("Previous-Version"),
        source=t("From"),
        wave=t("Wave"),
        clusters=_split(t("Clusters")),
        approver=t("Approver"),
        gates=gates,
        forced=_split(t("Forced")),
        forced_reason=t("Forced-Reason"),
        skipped_checks=t("Skipped-Checks"),
        bad_version=t("Bad-Version"),
        reverts=t("Reverts"),
        checked_on=t("Checked-On"),
    )


def automation_authors(fleet: Fleet) -> dict[str, str]:
    """App -> ``name <email>`` its ImageUpdateAutomation commits as (fleet.yaml ``automation.author``)."""
    return {
        a.name: f"{a.automation.author.name} <{a.automation.author.email}>"
        for a in fleet.apps
        if a.automation is not None
    }


def load(
    git: Git,
    *,
    app: str | None = None,
    env: str | None = None,
    rev: str = "HEAD",
    authors: Mapping[str, str] | None = None,
) -> list[Record]:
    """Every ledger record reachable from ``rev``, newest first, in one ``git log``.

    With ``authors`` (see automation_authors), a commit counts as the automation's only when it
    has the template's subject *and* the automation's author: anyone can write the subject, and
    gates such as soak count from these commits.
    """
    grep = [f"{PREFIX}Action: "]
    if app:
        grep.append(f"{PREFIX}App: {app}")
    if env:
        grep.append(f"{PREFIX}Env: {env}")
    out = []
    for entry in history.log(git, rev=rev, grep=grep, all_match=True):
        rec = record_from(entry)
        if rec is None or (app and rec.app != app) or (env and rec.env != env):
            continue
        out.append(rec)
    automated = [
        rec
        for entry in history.log(git, rev=rev, grep=[AUTOMATION_GREP])
        if (rec := automation_record(entry))
        and (not app or rec.app == app)
        and (not env or rec.env == env)
        and (authors is None or authors.get(rec.app) == entry.author)
    ]
    if automated:
        # git log lists newest first; keep that order across both kinds of commit
        out = sorted([*out, *automated], key=lambda r: r.time, reverse=True)
    return out


def automation_record(entry: history.LogEntry) -> Record | None:
    """A commit of Flux's ImageUpdateAutomation, known by the subject its template writes."""
    match = AUTOMATION_SUBJECT.match(entry.subject)
    if match is None or entry.trailer(PREFIX + "Action"):
        return None
    return Record(
        sha=entry.sha,
        parents=entry.parents,
        author=entry.author,
        time=entry.commit_time,
        subject=entry.subject,
        action="automation",
        app=match["app"],
        env=match["env"],
        version=match["version"].rstrip(","),
    )


@dataclass(frozen=True)
class Ledger:
    """Records of one app (newest first) with the questions gates ask of them."""

    records: tuple[Record, ...]
    # Records of the branch promoted into (the remote's main) that HEAD may not contain yet: their
    # bad-version marks count as much as the local ones.
    upstream: tuple[Record, ...] = ()

    def bad_versions(self) -> dict[str, Record]:
        """Version -> the rollback that marked it bad."""
        out: dict[str, Record] = {}
        for rec in (*reversed(self.upstream), *reversed(self.records)):
            if rec.bad_version:
                out[rec.bad_version] = rec
        return out

    def wave_landed(self, env: str, version: str, wave: str) -> Record | None:
        for rec in self.records:
            if (
                rec.env == env
                and rec.action == "promote"
                and rec.version == version
                and rec.wave_name == wave
            ):
                return rec
        return None


def message(subject: str, body: list[str], trailers: list[tuple[str, str | None]]) -> str:
    lines = [clean_value(subject), ""]
    if body:
        lines += [*body, ""]
    for key, value in trailers:
        if value:
            lines.append(f"{PREFIX}{key}: {clean_value(value)}")
    return "\n".join(lines) + "\n"
