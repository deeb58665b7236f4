"""A hostile repository reads nothing outside its root: every kustomization path field, through the
planner, the kustomize sandbox and the CLI (build, diff -o json/markdown). Real kustomize, real git."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from conftest import git
from fluxfleet.cli.main import main
from fluxfleet.render import pathfields, sandbox
from fluxfleet.render.engine import locate
from fluxfleet.render.files import FileTree
from fluxfleet.render.kustfile import SpecEdits
from fluxfleet.render.plan import PlanError, plan_build

from .helpers import cluster_repo, cm, ks, one, write

CANARY = "canary-confine-5e1d-never-print-me"

# (field, kustomization text with PATH where the path goes). One per entry of the table.
FIELD_CASES: list[tuple[str, str]] = [
    ("resources", "resources:\n- PATH\n"),
    ("bases", "bases:\n- PATH\n"),
    ("components", "components:\n- PATH\n"),
    ("crds", "crds:\n- PATH\n"),
    ("configurations", "configurations:\n- PATH\n"),
    ("openapi.path", "openapi:\n  path: PATH\n"),
    ("patches.path", "patches:\n- path: PATH\n"),
    ("patchesJson6902.path", "patchesJson6902:\n- target: {kind: ConfigMap, name: a}\n  path: PATH\n"),
    ("patchesStrategicMerge", "patchesStrategicMerge:\n- PATH\n"),
    ("replacements.path", "replacements:\n- path: PATH\n"),
    ("configMapGenerator.files", "configMapGenerator:\n- name: g\n  files:\n  - PATH\n"),
    ("configMapGenerator.files key=path", "configMapGenerator:\n- name: g\n  files:\n  - env=PATH\n"),
    ("configMapGenerator.envs", "configMapGenerator:\n- name: g\n  envs:\n  - PATH\n"),
    ("configMapGenerator.env", "configMapGenerator:\n- name: g\n  env: PATH\n"),
    ("secretGenerator.files", "secretGenerator:\n- name: g\n  files:\n  - PATH\n"),
    ("secretGenerator.files key=path", "secretGenerator:\n- name: g\n  files:\n  - env=PATH\n"),
    ("secretGenerator.envs", "secretGenerator:\n- name: g\n  envs:\n  - PATH\n"),
    ("secretGenerator.env", "secretGenerator:\n- name: g\n  env: PATH\n"),
    ("helmGlobals.chartHome", "helmGlobals:\n  chartHome: PATH\n"),
    ("helmGlobals.configHome", "helmGlobals:\n  configHome: PATH\n"),
    ("helmCharts.valuesFile", "helmCharts:\n- name: c\n  valuesFile: PATH\n"),
    ("helmCharts.additionalValuesFiles", "helmCharts:\n- name: c\n  additionalValuesFiles:\n  - PATH\n"),
    (
        "helmChartInflationGenerator.chartHome",
        "helmChartInflationGenerator:\n- chartName: c\n  chartHome: PATH\n",
    ),
    (
        "helmChartInflationGenerator.helmHome",
        "helmChartInflationGenerator:\n- chartName: c\n  helmHome: PATH\n",
    ),
    ("helmChartInflationGenerator.values", "helmChartInflationGenerator:\n- chartName: c\n  values: PATH\n"),
    ("generators", "generators:\n- PATH\n"),
    ("transformers", "transformers:\n- PATH\n"),
    ("validators", "validators:\n- PATH\n"),
]


def test_the_table_covers_every_case_here() -> None:
    """Each table entry has a case above, so adding a field to the table without a test fails."""
    tested = {case.split(" ")[0] for case, _ in FIELD_CASES}
    tabled = {pattern.replace(".*", "").replace("*.", "") for pattern, _ in pathfields.PATH_FIELDS}
    missing = {t for t in tabled if t not in tested}
    assert missing == set(), missing


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the repository holding the canary (what an attacker wants printed)."""
    secret = tmp_path / "outside" / "secret.env"
    secret.parent.mkdir()
    secret.write_text(f"TOKEN={CANARY}\n")
    return secret


def _plan_error(repo: Path, text: str) -> PlanError:
    write(repo, {"app/kustomization.yaml": text, "app/cm.yaml": [cm("a")]})
    with pytest.raises(PlanError) as caught:
        plan_build(FileTree(repo), "app", SpecEdits())
    return caught.value


@pytest.mark.parametrize(("field", "template"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_an_absolute_path_in_any_field_is_an_error_naming_file_and_line(
    tmp_path: Path, outside: Path, field: str, template: str
) -> None:
    repo = tmp_path / "repo"
    text = template.replace("PATH", str(outside))
    error = _plan_error(repo, text)
    assert "absolute path" in str(error) and "outside the source root" in str(error)
    assert error.file == "app/kustomization.yaml"
    expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if str(outside) in line)
    assert error.line == expected_line
    assert field.split(" ")[0].split(".")[0] in str(error)


@pytest.mark.parametrize(("field", "template"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_climbing_out_of_the_source_root_in_any_field_is_an_error(
    tmp_path: Path, outside: Path, field: str, template: str
) -> None:
    repo = tmp_path / "repo"
    climb = "../../outside/secret.env"  # from repo/app: one level past the repository root
    error = _plan_error(repo, template.replace("PATH", climb))
    assert "escapes the source root" in str(error), field
    assert error.file == "app/kustomization.yaml" and error.line is not None


PLUGIN_CASES = [(kind, pattern) for kind, table in pathfields.PLUGIN_FIELDS.items() for pattern, _ in table]


def _nest(parts: list[str], leaf: str) -> object:
    """The YAML value a dotted field pattern describes, with ``leaf`` at its end."""
    if not parts:
        return leaf
    head, rest = parts[0], parts[1:]
    return [_nest(rest, leaf)] if head == "*" else {head: _nest(rest, leaf)}


@pytest.mark.parametrize(("kind", "pattern"), PLUGIN_CASES, ids=[f"{k}.{p}" for k, p in PLUGIN_CASES])
@pytest.mark.parametrize("inline", [False, True], ids=["file", "inline"])
def test_paths_in_builtin_plugin_configs_are_confined_too(
    tmp_path: Path, outside: Path, kind: str, pattern: str, inline: bool
) -> None:
    from fluxfleet import yamlio

    body = _nest(pattern.split("."), str(outside))
    assert isinstance(body, dict)
    config = yamlio.dump({"apiVersion": "builtin", "kind": kind, "metadata": {"name": "x"}, **body})
    repo = tmp_path / "repo"
    if inline:
        text = "transformers:\n- |\n" + "".join(f"  {line}\n" for line in config.splitlines())
    else:
        write(repo, {"app/plugin.yaml": config})
        text = "transformers:\n- plugin.yaml\n"
    error = _plan_error(repo, text)
    assert "outside the source root" in str(error)


def test_relative_paths_inside_the_source_root_are_collected_even_outside_the_folder(tmp_path: Path) -> None:
    """Flux builds with LoadRestrictionsNone inside the source root: ``key=../shared/file`` works."""
    repo = cluster_repo(
        tmp_path,
        {"apps.yaml": [ks("app", "./apps/overlay")]},
        {
            "apps/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/base/cm.yaml": [cm("base")],
            "apps/shared/settings.txt": "mode=shared\n",
            "apps/shared/env.properties": "LEVEL=debug\n",
            "apps/overlay/kustomization.yaml": (
                "resources: [../base]\n"
                "configMapGenerator:\n"
                "- name: gen\n"
                "  options: {disableNameSuffixHash: true}\n"
                "  files: [conf=../shared/settings.txt]\n"
                "  envs: [../shared/env.properties]\n"
            ),
        },
    )
    plan = plan_build(FileTree(repo), "apps/overlay", SpecEdits())
    assert {"apps/shared/settings.txt", "apps/shared/env.properties"} <= set(plan.files)
    assert plan.root_only is False  # files above the kustomization: Flux's LoadRestrictionsNone
    render = one(repo)
    assert not render.errors, render.errors
    (body,) = [o.body for o in render.objects if o.body["metadata"]["name"] == "gen"]
    assert body["data"] == {"conf": "mode=shared\n", "LEVEL": "debug"}


def test_a_plan_inside_its_folder_uses_kustomizes_root_only_restrictor(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [../base, cm.yaml]\nconfigMapGenerator:\n- name: g\n  files: [sub/f.txt]\n",
            "app/cm.yaml": [cm("a")],
            "app/sub/f.txt": "x",
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": [cm("b")],
        },
    )
    plan = plan_build(FileTree(repo), "app", SpecEdits())
    assert plan.root_only is True
    engine = locate()
    assert "LoadRestrictionsRootOnly" in engine.argv(Path("x"), root_only=plan.root_only)


def test_a_secret_generator_literal_is_never_recorded_as_a_path(tmp_path: Path) -> None:
    from fluxfleet.render import files

    repo = write(
        tmp_path,
        {"app/kustomization.yaml": f"secretGenerator:\n- name: s\n  literals: [password={CANARY}]\n"},
    )
    with files.recording() as reads:
        plan_build(FileTree(repo), "app", SpecEdits())
    assert reads and not any(CANARY in rel for _, _, rel in reads)


# -- non-regular files, denial of service --------------------------------------------------------


def test_dev_urandom_fails_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    error = _plan_error(tmp_path / "repo", "resources:\n- /dev/urandom\n")
    assert "absolute path" in str(error) and time.monotonic() - started < 5


@pytest.mark.parametrize("what", ["fifo", "device-link", "dir-link-out", "file-link-in"])
def test_only_regular_files_are_read(tmp_path: Path, outside: Path, what: str) -> None:
    repo = tmp_path / "repo"
    write(repo, {"app/cm.yaml": [cm("a")]})
    app = repo / "app"
    if what == "fifo":
        os.mkfifo(app / "pipe.yaml")
        ref, words = "pipe.yaml", "a FIFO"
    elif what == "device-link":
        (app / "rand.yaml").symlink_to("/dev/urandom")
        ref, words = "rand.yaml", "a symbolic link"
    elif what == "dir-link-out":
        (app / "out").symlink_to(outside.parent)
        ref, words = "out/secret.env", "a symbolic link"
    else:
        (app / "again.yaml").symlink_to(app / "cm.yaml")  # even inside: source-controller drops links
        ref, words = "again.yaml", "a symbolic link"
    started = time.monotonic()
    error = _plan_error(repo, f"resources:\n- {ref}\n")
    assert words in str(error) and "only regular files" in str(error)
    assert error.line == 2 and time.monotonic() - started < 5


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(8)
)


@pytest.mark.parametrize("field", ["patches", "resources", "configurations"])
def test_a_yaml_bomb_in_a_listed_file_is_refused_before_any_build(tmp_path: Path, field: str) -> None:
    repo = tmp_path / "repo"
    write(
        repo,
        {
            "app/bomb.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n  "
            + BOMB.replace("\n", "\n  ")
        },
    )
    text = {"patches": "patches:\n- path: bomb.yaml\n", "resources": "resources: [bomb.yaml]\n"}.get(
        field, "configurations: [bomb.yaml]\n"
    )
    started = time.monotonic()
    error = _plan_error(repo, text)
    assert "aliases expand" in str(error) and error.file == "app/bomb.yaml"
    assert time.monotonic() - started < 10


def test_absurd_nesting_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, {"app/deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n"})
    error = _plan_error(repo, "resources: [deep.yaml]\n")
    assert "nested" in str(error)


# -- the second wall: kustomize itself can read nothing outside its scratch root ---------------


@pytest.mark.skipif(
    sandbox.landlock_abi() < 1, reason="the kernel offers no Landlock; the planner is the only wall"
)
def test_kustomize_reads_nothing_outside_its_scratch_root_even_if_the_planner_missed_it(
    tmp_path: Path, outside: Path
) -> None:
    from fluxfleet.proc import ToolError

    root = tmp_path / "scratch"
    write(root, {"kustomization.yaml": f"configMapGenerator:\n- name: g\n  envs: [{outside}]\n"})
    with pytest.raises(ToolError) as caught:
        locate().build(root)
    assert "permission denied" in caught.value.message and CANARY not in caught.value.message


def test_a_build_sees_none_of_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fluxfleet.render.engine import build_env

    monkeypatch.setenv("SOME_TOKEN", CANARY)
    assert CANARY not in json.dumps(build_env(tmp_path))


# -- end to end: the probe a pull request would try ---------------------------------------------


@pytest.fixture(scope="module")
def example_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("fleet") / "fleet"
    assert main(["init", "--example", str(repo)]) == 0
    assert main(["generate", "-C", str(repo)]) == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


OVERLAY = "apps/myapp/overlays/dev/kustomization.yaml"


def _probe(repo: Path, generator: str) -> None:
    git(repo, "checkout", "-q", "--", ".")
    path = repo / OVERLAY
    path.write_text(path.read_text() + generator)


@pytest.mark.parametrize(
    "generator",
    [
        "configMapGenerator:\n- name: env\n  files: [/proc/self/environ]\n",
        "configMapGenerator:\n- name: env\n  files: [environ=../../../../../../../../../../proc/self/environ]\n",
        "configMapGenerator:\n- name: env\n  envs: [/proc/self/environ]\n",
    ],
    ids=["files", "key=climb", "envs"],
)
def test_the_environ_probe_prints_nothing_through_build_or_diff(
    example_fleet: Path, generator: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROBE_CANARY", CANARY)
    _probe(example_fleet, generator)
    try:
        code = main(["build", "-C", str(example_fleet), "--cluster", "dev-us-west-2"])
        out, err = capsys.readouterr()
        assert code != 0 and CANARY not in out + err
        assert (f"{OVERLAY}:" in err and "outside the source root" in err) or "escapes the source root" in err
        for fmt in ("json", "markdown"):
            main(["diff", "-C", str(example_fleet), "--cluster", "dev-us-west-2", "-o", fmt])
            out, err = capsys.readouterr()
            assert CANARY not in out + err
            assert base64.b64encode(CANARY.encode()).decode()[:20] not in out
    finally:
        git(example_fleet, "checkout", "-q", "--", ".")


def test_the_probe_through_replacements_into_a_markdown_diff(
    example_fleet: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``replacements`` copies a generated value into an object the markdown diff shows in clear."""
    monkeypatch.setenv("PROBE_CANARY", CANARY)
    _probe(
        example_fleet,
        "configMapGenerator:\n- name: env\n  files: [environ=/proc/self/environ]\n"
        "replacements:\n- source: {kind: ConfigMap, name: env, fieldPath: data.environ}\n"
        "  targets:\n  - select: {kind: Deployment}\n"
        "    fieldPaths: [metadata.annotations.leak]\n    options: {create: true}\n",
    )
    try:
        main(["diff", "-C", str(example_fleet), "-o", "markdown"])
        out, err = capsys.readouterr()
        assert CANARY not in out + err
        assert "outside the source root" in out + err
    finally:
        git(example_fleet, "checkout", "-q", "--", ".")


# -- the same walls for fleet.yaml and --source NAME=PATH -----------------------------------------


def test_a_fleet_yaml_linking_out_of_the_repository_is_refused(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fleet.yaml").symlink_to(outside)
    code = main(["build", "-C", str(repo)])
    out, err = capsys.readouterr()
    assert code == 2 and "outside the repository" in err
    assert CANARY not in out + err


def test_a_fifo_in_fleet_d_is_refused_without_hanging(
    example_fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    repo = tmp_path / "fleet"
    shutil.copytree(example_fleet, repo, symlinks=True)
    (repo / "fleet.d").mkdir(exist_ok=True)
    os.mkfifo(repo / "fleet.d" / "more.yaml")
    started = time.monotonic()
    code = main(["validate", "-C", str(repo)])
    _, err = capsys.readouterr()
    assert code == 2 and "not a regular file" in err
    assert time.monotonic() - started < 30


def test_a_mapped_source_is_its_own_root(tmp_path: Path, outside: Path) -> None:
    """``--source NAME=PATH``: the mapped folder's kustomizations are confined to that folder."""
    from .helpers import render

    tenant = tmp_path / "tenant"
    write(tenant, {"kustomization.yaml": "configMapGenerator:\n- name: g\n  envs: [../outside/secret.env]\n"})
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "tenant", "namespace": "flux-system"},
        "spec": {"url": "https://example.com/tenant.git", "interval": "1m"},
    }
    tenant_ks = ks("tenant", "./", sourceRef={"kind": "GitRepository", "name": "tenant"})
    repo = cluster_repo(tmp_path / "repo", {"tenant.yaml": [source, tenant_ks]})
    (r,) = render(repo, sources=(f"tenant={tenant}",))
    errors = " ".join(str(e) for e in r.errors)
    assert "escapes the source root" in errors
    assert CANARY not in errors and not any(CANARY in str(o.body) for o in r.objects)


@pytest.mark.skipif(
    sandbox.landlock_abi() < 1, reason="the kernel offers no Landlock; the planner is the only wall"
)
def test_a_dynamically_linked_engine_still_runs_confined(tmp_path: Path, outside: Path) -> None:
    """A distribution's kustomize (or a wrapper script) needs its loader and libraries, not our files."""
    from fluxfleet import proc
    from fluxfleet.proc import ToolError

    write(tmp_path / "scratch", {"inside.txt": "inside\n"})
    with sandbox.confined(tmp_path / "scratch", "/bin/cat", timeout=10) as confinement:
        kwargs = {"preexec": confinement.preexec(), "pass_fds": confinement.pass_fds}
        assert proc.run(["/bin/cat", str(tmp_path / "scratch" / "inside.txt")], **kwargs).text == "inside\n"
    with sandbox.confined(tmp_path / "scratch", "/bin/cat", timeout=10) as confinement:
        kwargs = {"preexec": confinement.preexec(), "pass_fds": confinement.pass_fds}
        with pytest.raises(ToolError) as caught:
            proc.run(["/bin/cat", str(outside)], **kwargs)
    assert "Permission denied" in caught.value.message and CANARY not in caught.value.message


@pytest.mark.parametrize("value", ['"bad\\0name.yaml"', "x" * 300 + ".yaml"], ids=["nul", "long-name"])
def test_unusable_path_names_are_errors_not_crashes(tmp_path: Path, value: str) -> None:
    repo = tmp_path / "repo"
    write(repo, {"app/kustomization.yaml": f"patches:\n- path: {value}\n", "app/cm.yaml": [cm("a")]})
    try:
        plan_build(FileTree(repo), "app", SpecEdits())
    except PlanError as exc:
        assert "NUL" in str(exc) and exc.line == 2
    else:
        assert len(value) > 300  # a name too long is simply absent: kustomize reports it missing


def test_dir_output_writes_nothing_outside_its_folder_whatever_the_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = ks("../../../../escaped", "./app", namespace="../..")
    hostile["spec"]["sourceRef"]["namespace"] = "flux-system"
    repo = cluster_repo(tmp_path / "repo", {"apps.yaml": [hostile]}, {"app/cm.yaml": [cm("a")]})
    out = tmp_path / "a" / "b" / "out"
    code = main(["build", "-C", str(repo), "-o", f"dir:{out}"])
    _, err = capsys.readouterr()
    assert code == 2 and "escapes" in err
    assert [p for p in tmp_path.rglob("*escaped*")] == []
