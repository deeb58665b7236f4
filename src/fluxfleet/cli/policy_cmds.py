"""``fluxfleet policy test``: run Gatekeeper ``suite.yaml`` files offline, like ``gator verify``.

Exit codes: 0 every case passed; 1 a case failed; 2 a user error (bad path, malformed suite).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from fluxfleet.cli.common import OutputOpt, RepoOpt, echo, progress
from fluxfleet.output import Format, structured


class EngineOpt(StrEnum):
    auto = "auto"
    rego = "rego"
    cel = "cel"
    all = "all"


def register(app: typer.Typer) -> None:
    """Add the ``policy`` group to the root app."""
    policy = typer.Typer(help="Test Gatekeeper policies offline.", no_args_is_help=True)

    @policy.command("test")
    def test(
        paths: Annotated[
            list[str] | None, typer.Argument(help="suite.yaml files or folders (default: the repository).")
        ] = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
        engine: Annotated[
            EngineOpt,
            typer.Option(
                "--engine",
                help="auto: CEL when a template ships it, as Gatekeeper does; rego or cel: prefer that one; "
                "all: both variants of templates that ship both.",
                case_sensitive=False,
            ),
        ] = EngineOpt.auto,
        run: Annotated[
            str | None,
            typer.Option("--run", help="Only tests or cases whose name matches this regex (TEST//CASE)."),
        ] = None,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Text: list passing cases too.")
        ] = False,
    ) -> None:
        """Run Gatekeeper suite.yaml tests (gator verify format) with fluxfleet's offline engines."""
        from fluxfleet.check.gksuite import Runner, SuiteResult, find_suites

        suites = find_suites(repo, list(paths or []))
        runner = Runner(repo, engine.value, run)
        results: list[SuiteResult] = []
        with progress("policy test", len(suites)) as bar:
            for rel in suites:
                r = runner.run_suite(rel)
                if r is not None:
                    results.append(r)
                bar.advance()
        failed = sum(r.failed for r in results)
        if output != Format.text:
            data: dict[str, Any] = {
                "suites": [
                    {
                        "path": r.path,
                        "cases": [
                            {
                                "test": c.test,
                                "case": c.case,
                                "engine": c.engine,
                                "status": c.status,
                                **({"detail": c.detail} if c.detail else {}),
                            }
                            for c in r.cases
                        ],
                    }
                    for r in results
                ],
                "summary": _summary(results),
            }
            echo(structured(data, output.value))
        else:
            for r in results:
                for c in r.cases:
                    if c.status == "fail" or verbose:
                        label = f"{r.path} {c.test}/{c.case} [{c.engine}]"
                        echo(f"{c.status.upper():<4}  {label}" + (f"\n      {c.detail}" if c.detail else ""))
            s = _summary(results)
            verdict = "FAIL" if failed else "ok"
            echo(
                f"{verdict}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped "
                f"in {s['suites']} suite(s)"
            )
        raise typer.Exit(1 if failed else 0)

    app.add_typer(policy, name="policy")


def _summary(results: list[Any]) -> dict[str, int]:
    cases = [c for r in results for c in r.cases]
    return {
        "suites": len(results),
        "passed": sum(1 for c in cases if c.status == "pass"),
        "failed": sum(1 for c in cases if c.status == "fail"),
        "skipped": sum(1 for c in cases if c.status == "skip"),
    }
