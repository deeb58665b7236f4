"""Scanner reports -> :class:`ImageReport`: Trivy JSON, Grype JSON, SARIF 2.1.0, CycloneDX (+ VEX).

The format is recognised from the content, not the file name. Unknown fields are ignored (each
scanner adds some every release); a report that names no image cannot be matched and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from fluxfleet.errors import FleetError
from fluxfleet.fleet.scanpolicy import SEVERITY_ORDER, Severity
from fluxfleet.scan.model import ImageReport, Vulnerability, from_score, severity
from fluxfleet.scan.refs import parse_ref

# CycloneDX VEX states under which a listed vulnerability does not affect the image
NOT_AFFECTING = frozenset({"not_affected", "false_positive", "resolved", "resolved_with_pedigree"})


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strs(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]


def _identity(refs: Iterable[str], digests: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """References as ``name:tag`` and digests, from any mix of ``name:tag`` / ``name@sha256:..``."""
    out_refs: set[str] = set()
    out_digests = {d for d in digests if d.startswith("sha256:")}
    for raw in refs:
        ref = parse_ref(raw)
        if ref.digest:
            out_digests.add(ref.digest)
        if ref.tag:
            out_refs.add(ref.reference)
    return frozenset(out_refs), frozenset(out_digests)


def parse_trivy(doc: dict[str, Any], source: str) -> ImageReport:
    meta = _map(doc.get("Metadata"))
    refs, digests = _identity(
        [
            *_strs([doc.get("ArtifactName")]),
            *_strs(_list(meta.get("RepoTags"))),
            *_strs(_list(meta.get("RepoDigests"))),
        ],
        [],
    )
    vulns = []
    for result in _list(doc.get("Results")):
        for v in _list(_map(result).get("Vulnerabilities")):
            v = _map(v)
            if not isinstance(v.get("VulnerabilityID"), str):
                continue
            fixed_version = str(v.get("FixedVersion") or "")
            status = str(v.get("Status") or "")
            fixed: bool | None = True if fixed_version or status == "fixed" else None
            if status in ("will_not_fix", "fix_deferred", "end_of_life", "affected"):
                fixed = bool(fixed_version)
            vulns.append(
                Vulnerability(
                    v["VulnerabilityID"],
                    str(v.get("PkgName") or ""),
                    str(v.get("InstalledVersion") or ""),
                    severity(v.get("Severity")),
                    fixed,
                    fixed_version,
                    str(v.get("Title") or ""),
                )
            )
    return ImageReport(source, refs, digests, tuple(sorted(set(vulns))), scanner="trivy")


def parse_grype(doc: dict[str, Any], source: str) -> ImageReport:
    target = _map(_map(doc.get("source")).get("target"))
    refs, digests = _identity(
        [
            *_strs([target.get("userInput")]),
            *_strs(_list(target.get("tags"))),
            *_strs(_list(target.get("repoDigests"))),
        ],
        _strs([target.get("manifestDigest")]),
    )
    vulns = []
    for match in _list(doc.get("matches")):
        match = _map(match)
        v = _map(match.get("vulnerability"))
        if not isinstance(v.get("id"), str):
            continue
        art = _map(match.get("artifact"))
        fix = _map(v.get("fix"))
        versions = _strs(_list(fix.get("versions")))
        state = str(fix.get("state") or "")
        fixed: bool | None = (
            True if state == "fixed" or versions else (False if state in ("not-fixed", "wont-fix") else None)
        )
        vulns.append(
            Vulnerability(
                v["id"],
                str(art.get("name") or ""),
                str(art.get("version") or ""),
                severity(v.get("severity")),
                fixed,
                ", ".join(versions),
                str(v.get("description") or "")[:200],
            )
        )
    return ImageReport(source, refs, digests, tuple(sorted(set(vulns))), scanner="grype")


def _sarif_severity(rule: dict[str, Any], result: dict[str, Any]) -> str:
    props = _map(rule.get("properties"))
    score = props.get("security-severity")
    try:
        if score is not None:
            return from_score(float(score))
    except (TypeError, ValueError):
        pass
    level = result.get("level") or _map(rule.get("defaultConfiguration")).get("level")
    return {"error": "high", "warning": "medium", "note": "low"}.get(str(level), "unknown")


def parse_sarif(doc: dict[str, Any], source: str) -> list[ImageReport]:
    """One report per run; the run's image from ``properties`` (imageName, repoTags, repoDigests)."""
    out = []
    for run in _list(doc.get("runs")):
        run = _map(run)
        props = _map(run.get("properties"))
        refs, digests = _identity(
            [
                *_strs([props.get("imageName")]),
                *_strs(_list(props.get("repoTags"))),
                *_strs(_list(props.get("repoDigests"))),
            ],
            [],
        )
        driver = _map(_map(run.get("tool")).get("driver"))
        rules = {str(_map(r).get("id")): _map(r) for r in _list(driver.get("rules"))}
        vulns = set()
        for result in _list(run.get("results")):
            result = _map(result)
            rule_id = result.get("ruleId")
            if not isinstance(rule_id, str):
                continue
            rule = rules.get(rule_id, {})
            text = str(_map(result.get("message")).get("text") or "")
            package, installed, fixed_version = _sarif_message_fields(text)
            vulns.add(
                Vulnerability(
                    rule_id,
                    package,
                    installed,
                    severity(_sarif_severity(rule, result)),
                    (True if fixed_version else None),
                    fixed_version,
                    str(_map(rule.get("shortDescription")).get("text") or "")[:200],
                )
            )
        out.append(
            ImageReport(
                source, refs, digests, tuple(sorted(vulns)), scanner=str(driver.get("name") or "sarif")
            )
        )
    return out


def _sarif_message_fields(text: str) -> tuple[str, str, str]:
    """Trivy's SARIF message lines: ``Package: x``, ``Installed Version: y``, ``Fixed Version: z``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields.get("package", ""), fields.get("installed version", ""), fields.get("fixed version", "")


def _purl_identity(purl: str) -> tuple[list[str], list[str]]:
    """``pkg:oci/name@sha256%3A..?repository_url=reg/org/name&tag=v1`` -> references, digests."""
    if not purl.startswith("pkg:oci/"):
        return [], []
    body, _, query = purl.removeprefix("pkg:oci/").partition("?")
    name, _, version = body.partition("@")
    qs = parse_qs(query)
    repo = unquote(qs.get("repository_url", [unquote(name)])[0])
    digest = unquote(version)
    refs = [f"{repo}:{t}" for t in qs.get("tag", [])]
    if digest.startswith("sha256:"):
        refs.append(f"{repo}@{digest}")
    return refs, [digest] if digest.startswith("sha256:") else []


def parse_cyclonedx(doc: dict[str, Any], source: str) -> ImageReport:
    component = _map(_map(doc.get("metadata")).get("component"))
    raw_refs: list[str] = []
    raw_digests: list[str] = []
    purl_refs, purl_digests = _purl_identity(str(component.get("purl") or ""))
    raw_refs += purl_refs
    raw_digests += purl_digests
    name, version = component.get("name"), component.get("version")
    if isinstance(name, str) and name:
        if isinstance(version, str) and version.startswith("sha256:"):
            raw_refs.append(f"{name}@{version}")
        elif isinstance(version, str) and version:
            raw_refs.append(f"{name}:{version}")
    refs, digests = _identity(raw_refs, raw_digests)
    packages = {
        str(_map(c).get("bom-ref")): (str(_map(c).get("name") or ""), str(_map(c).get("version") or ""))
        for c in _list(doc.get("components"))
    }
    vulns = set()
    vex: dict[str, str] = {}
    for v in _list(doc.get("vulnerabilities")):
        v = _map(v)
        vid = v.get("id")
        if not isinstance(vid, str):
            continue
        state = _map(v.get("analysis")).get("state")
        if isinstance(state, str):
            vex[vid] = state
        ratings = [_map(r) for r in _list(v.get("ratings"))]
        sev: Severity = max(
            (severity(r.get("severity")) for r in ratings), key=SEVERITY_ORDER.index, default="unknown"
        )
        affects = [_map(a) for a in _list(v.get("affects"))]
        ref = str(affects[0].get("ref")) if affects else ""
        package, installed = packages.get(ref, ("", ""))
        statuses = {str(_map(ver).get("status")) for a in affects for ver in _list(a.get("versions"))}
        fixed: bool | None = True if "unaffected" in statuses or v.get("recommendation") else None
        vulns.add(
            Vulnerability(
                vid, package or ref, installed, sev, fixed, "", str(v.get("description") or "")[:200]
            )
        )
    return ImageReport(source, refs, digests, tuple(sorted(vulns)), vex=vex, scanner="cyclonedx")


def parse_report(text: str, source: str) -> list[ImageReport]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FleetError(f"not a JSON scan report: {exc.msg}", file=source, line=exc.lineno) from None
    except RecursionError:
        raise FleetError("scan report nested too deeply to be a real report", file=source) from None
    if not isinstance(doc, dict):
        raise FleetError("not a scan report (expected a JSON object)", file=source)
    if doc.get("bomFormat") == "CycloneDX":
        return [parse_cyclonedx(doc, source)]
    if "runs" in doc and str(doc.get("version", "")).startswith("2.1"):
        return parse_sarif(doc, source)
    if "SchemaVersion" in doc and ("Results" in doc or "ArtifactName" in doc):
        return [parse_trivy(doc, source)]
    if "matches" in doc and ("source" in doc or "descriptor" in doc):
        return [parse_grype(doc, source)]
    raise FleetError(
        "unrecognised scan report",
        file=source,
        hint="give Trivy JSON (--format json), Grype JSON (-o json), SARIF 2.1.0 or CycloneDX JSON",
    )


def name_of(report: ImageReport) -> str:
    """A readable name for the image of a report (for messages)."""
    return min(report.references, default="") or min(report.digests, default="") or "an unnamed image"
