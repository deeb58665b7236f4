"""Read-only views: the version matrix (app × environment × cluster) and where a rollout stands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import Placement
from fluxfleet.promote import gates as g
from fluxfleet.promote import ledger
from fluxfleet.promote.state import EnvState, app_envs, env_state


def version_matrix(
    repo: Path, fleet: Fleet, placement: Placement, records: list[ledger.Record], app: str | None = None
) -> dict[str, Any]:
    bad: dict[str, set[str]] = {}
    for rec in records:
        if rec.bad_version:
            bad.setdefault(rec.app, set()).add(rec.bad_version)
    apps = [fleet.app(app)] if app else [a for a in fleet.apps if a.image]
    out = []
    for a in apps:
        envs: dict[str, Any] = {}
        for env in app_envs(fleet, placement, a.name):
            st = env_state(repo, fleet, placement, a.name, env)
            last = next((r for r in records if r.app == a.name and r.env == env), None)
            envs[env] = {
                "version": st.version,
                "rollingOut": st.rolling_out,
                "clusters": {c: v for c, v in st.cluster_versions().items()},
                "pinned": dict(st.pins),
                # the version in the overlay was written by Flux's image automation, not promoted
                "byAutomation": bool(last and last.action == "automation" and last.version == st.version),
            }
        out.append(
            {
                "app": a.name,
                "image": a.image,
                "environments": envs,
                "badVersions": sorted(bad.get(a.name, ())),
            }
        )
    return {"environments": fleet.env_names, "apps": out}


def matrix_text(data: dict[str, Any]) -> str:
    envs: list[str] = data["environments"]
    rows = [["APP", *[e.upper() for e in envs]]]
    notes: list[str] = []
    for app in data["apps"]:
        row = [app["app"]]
        bad = set(app["badVersions"])
        for env in envs:
            cell = app["environments"].get(env)
            if cell is None:
                row.append("-")
                continue
            version = cell["version"] or "(base)"
            text = (
                version
                + (" (bad)" if version in bad else "")
                + (" (automation)" if cell.get("byAutomation") else "")
            )
            if cell["rollingOut"]:
                text += f" -> {cell['rollingOut']} on {len(cell['pinned'])}/{len(cell['clusters'])}"
                for cluster, tag in cell["pinned"].items():
                    notes.append(f"  {app['app']} {env} {cluster}: {tag} (pinned)")
            row.append(text)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if notes:
        lines += ["", "clusters that differ from their environment:", *notes]
    return "\n".join(lines) + "\n"


def rollout_status(
    state: EnvState, fleet: Fleet, records: list[ledger.Record], now: datetime
) -> dict[str, Any]:
    target = state.rolling_out
    done = state.waves_done
    waves = []
    for w in state.waves:
        entry: dict[str, Any] = {
            "name": w.name,
            "index": w.index,
            "clusters": list(w.clusters),
            "soak": w.soak,
        }
        if target is None:
            entry["state"] = "complete" if state.version else "idle"
        elif w.index <= done:
            entry["state"] = "done"
            rec = next(
                (r for r in records if r.env == state.env and r.version == target and r.wave_name == w.name),
                None,
            )
            if rec:
                entry["landed"] = rec.time
                entry["commit"] = rec.sha
                if w.soak:
                    deadline = g.soak_deadline(w.soak, rec.time)
                    entry["soakUntil"] = deadline.isoformat()
                    entry["soaked"] = now >= deadline
        elif w.index == done + 1:
            entry["state"] = "next"
        else:
            entry["state"] = "pending"
        waves.append(entry)
    nxt = state.next_wave
    return {
        "app": state.app,
        "env": state.env,
        "version": state.version,
        "rollingOut": target,
        "wavesDone": done,
        "waves": waves,
        "clusters": state.cluster_versions(),
        "next": (
            f"fluxfleet promote {state.app} --to {state.env} --version {target}" if target and nxt else None
        ),
    }


def rollout_text(data: dict[str, Any]) -> str:
    head = f"{data['app']} in {data['env']}: {data['version'] or '(base)'}"
    if data["rollingOut"]:
        head += f", rolling out {data['rollingOut']} ({data['wavesDone']}/{len(data['waves'])} waves done)"
    else:
        head += ", no rollout in progress"
    lines = [head]
    for w in data["waves"]:
        extra = ""
        if "landed" in w:
            extra = f"  landed {g.when(w['landed'])}"
            if "soaked" in w:
                extra += ", soaked" if w["soaked"] else f", soaking until {w['soakUntil']}"
        soak = f" soak {w['soak']}" if w["soak"] else ""
        lines.append(
            f"  {w['index']}. {w['name']:<12} {w['state']:<9}{soak}  {', '.join(w['clusters'])}{extra}"
        )
    if data["next"]:
        lines.append(f"next: {data['next']}")
    return "\n".join(lines) + "\n"


def history_text(records: list[ledger.Record]) -> str:
    if not records:
        return "no promotions recorded\n"
    lines = []
    for r in records:
        arrow = f"{r.previous or '-'} -> {r.version or '-'}"
        wave = f" wave {r.wave}" if r.wave else ""
        src = f" from {r.source}" if r.source else ""
        lines.append(f"{g.when(r.time)}  {r.sha[:10]}  {r.action:<8} {r.app} {r.env}{src}: {arrow}{wave}")
        who = f"    by {r.author}"
        if r.approver:
            who += f", approved by {r.approver}"
        lines.append(who)
        if r.gates:
            lines.append("    gates: " + ", ".join(f"{k}={v}" for k, v in r.gates.items()))
        if r.forced:
            lines.append(f"    forced {', '.join(r.forced)}: {r.forced_reason}")
        if r.skipped_checks:
            lines.append(f"    checks skipped: {r.skipped_checks}")
        if r.bad_version:
            lines.append(f"    marked {r.bad_version} bad")
        if r.reverts:
            lines.append(f"    reverts {r.reverts[:10]}")
    return "\n".join(lines) + "\n"
