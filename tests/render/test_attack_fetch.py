"""Chart sources chosen by a hostile pull request: what the CI runner may be made to fetch.

Real HTTP servers on loopback stand for the attacker's hosts (loopback stays fetchable: internal
mirrors live on such addresses); link-local/metadata addresses, ``file://`` and redirects out of
http(s) are refused, downloads are bounded in size, time and unpacked size. Every case keeps a
canary in the environment and in a file outside the repository and proves neither is printed.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render import charts
from fluxfleet.render.charts import ChartCache, ChartRequest, ChartUnavailable, FetchRefused
from fluxfleet.render.helm import find_helm

from .helpers import cluster_repo, one

CANARY_ENV = "canary-fetch-env-41d0"
CANARY_FILE = "canary-fetch-file-c7e2"


@pytest.fixture(autouse=True)
def _online_with_canaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUXFLEET_OFFLINE", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_ENV)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "index.yaml"
    secret.parent.mkdir()
    secret.write_text(f"apiVersion: v1\nentries:\n  {CANARY_FILE}: []\n")
    return secret


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextlib.contextmanager
def serve(handle: Handler) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback HTTP server answering every GET with ``handle``; yields its URL and the requests."""
    seen: list[dict[str, str]] = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            handle(self)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def redirect_to(location: str) -> Handler:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.end_headers()

    return handle


def _release_and_repo(url: str) -> dict[str, Any]:
    return {
        "r.yaml": [
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {
                    "chart": {
                        "spec": {"chart": "hello", "sourceRef": {"kind": "HelmRepository", "name": "r"}}
                    }
                },
            }
        ],
        "s.yaml": [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "HelmRepository",
                "metadata": {"name": "r", "namespace": "apps"},
                "spec": {"url": url},
            }
        ],
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0:1/",
        "http://100.100.100.200/",
        "file:///etc",
    ],
)
def test_metadata_and_file_urls_are_refused_through_the_cli(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = cluster_repo(tmp_path / "repo", _release_and_repo(url))
    code = main(["get", "helmreleases", "-C", str(repo), "-o", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), out + err
    assert "link-local or metadata address" in out or "only http and https" in out, out
    assert CANARY_ENV not in out + err


def test_redirects_to_file_urls_or_metadata_are_refused(tmp_path: Path, outside: Path) -> None:
    for target, reason in [
        (outside.as_uri(), "is not allowed"),  # urllib's own refusal, before fluxfleet's
        ("http://169.254.169.254/latest/meta-data/", "link-local or metadata address"),
        ("ftp://127.0.0.1/index.yaml", "only http and https are followed"),
    ]:
        with serve(redirect_to(target)) as (url, seen):
            render = one(cluster_repo(tmp_path / f"repo-{len(reason)}-{target[:3]}", _release_and_repo(url)))
        (release,) = render.helmreleases
        assert reason in release.reason, release.reason
        assert CANARY_FILE not in release.reason
        assert [s["path"] for s in seen] == ["/index.yaml"]


def test_credentials_are_not_forwarded_through_a_redirect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        serve(lambda h: h.send_error(404)) as (elsewhere, elsewhere_seen),
        serve(redirect_to(f"{elsewhere}/index.yaml")) as (url, seen),
    ):
        config = tmp_path / "repositories.yaml"
        config.write_text(
            f"repositories:\n- name: r\n  url: {url}\n  username: u\n  password: {CANARY_ENV}\n"
        )
        monkeypatch.setenv("HELM_REPOSITORY_CONFIG", str(config))
        with pytest.raises(ChartUnavailable, match="HTTP 404"):
            ChartCache(tmp_path / "cache").fetch(ChartRequest("http", url, "hello", "1.0.0"))
    assert seen[0].get("authorization", "").startswith("Basic ")  # the named repository gets them
    assert [s["path"] for s in elsewhere_seen] == ["/index.yaml"]
    assert "authorization" not in elsewhere_seen[0]  # the host it redirects to does not


def test_a_server_that_drips_is_cut_off_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "HTTP_DEADLINE", 1.0)

    def drip(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(40):
                h.wfile.write(b"#")
                h.wfile.flush()
                time.sleep(0.1)

    with serve(drip) as (url, _):
        started = time.monotonic()
        with pytest.raises(ChartUnavailable, match="not done within 1s"):
            ChartCache(tmp_path / "cache").fetch(ChartRequest("http", url, "hello", "1.0.0"))
        assert time.monotonic() - started < 3


def test_a_huge_index_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "MAX_INDEX_BYTES", 1 << 20)

    def huge(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(64):
                h.wfile.write(b"#" * 65536)

    with serve(huge) as (url, _), pytest.raises(ChartUnavailable, match="larger than 1 MiB"):
        ChartCache(tmp_path / "cache").fetch(ChartRequest("http", url, "hello", "1.0.0"))


def test_refused_addresses() -> None:
    for address in ("169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "0.0.0.0", "224.0.0.1"):
        assert charts.refused_address(address), address
    for address in ("127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "93.184.216.34"):
        assert not charts.refused_address(address), address
    with pytest.raises(FetchRefused):
        charts.check_host("169.254.169.254", "http://169.254.169.254/")


def _bomb(path: Path, unpacked: int) -> None:
    """A chart archive whose one file is ``unpacked`` zero bytes (a few hundred KiB packed)."""

    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        chart = b"apiVersion: v2\nname: hello\nversion: 1.0.0\n"
        info = tarfile.TarInfo("hello/Chart.yaml")
        info.size = len(chart)
        tar.addfile(info, io.BytesIO(chart))
        info = tarfile.TarInfo("hello/templates/big.yaml")
        info.size = unpacked
        tar.addfile(info, io.BufferedReader(Zeros(unpacked)))


def test_a_decompression_bomb_is_not_unpacked(tmp_path: Path) -> None:
    from fluxfleet.proc import ToolError
    from fluxfleet.render import helm
    from fluxfleet.render.fluxks import SourceRef

    archive = tmp_path / "hello-1.0.0.tgz"
    _bomb(archive, helm.MAX_UNPACKED_BYTES + 1)
    target = tmp_path / "unpacked"
    target.mkdir()
    chart = helm.CachedChart(archive, SourceRef("HelmRepository", "apps", "r"), "1.0.0", "abc")
    with pytest.raises(ToolError, match="unpacks to more than 100 MiB"):
        helm._unpack(chart, target)
    assert list(target.rglob("*")) == []  # refused before anything was written


def _hostile_archive(path: Path, outside: Path, escape: bool) -> None:
    """A chart archive with a ``../`` entry, absolute and escaping symlinks, read by its template."""
    template = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n"
        b'  environ: {{ .Files.Get "environ" | quote }}\n'
        b'  outside: {{ .Files.Get "outside" | quote }}\n'
        b'  up: {{ .Files.Get "up" | quote }}\n'
    )
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [
            ("hello/Chart.yaml", b"apiVersion: v2\nname: hello\nversion: 1.0.0\n"),
            ("hello/values.yaml", b"{}\n"),
            ("hello/templates/cm.yaml", template),
            *([("hello/../../escaped.txt", b"written outside\n")] if escape else []),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in [
            ("hello/environ", "/proc/self/environ"),
            ("hello/outside", str(outside)),
            ("hello/up", "../../../../../../../../" + str(outside).lstrip("/")),
        ]:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


@pytest.mark.parametrize("escape", [True, False], ids=["dotdot", "symlinks"])
@pytest.mark.parametrize("values_files", [False, True], ids=["archive", "unpacked"])
def test_a_hostile_chart_archive_reads_and_writes_nothing_outside(
    tmp_path: Path, outside: Path, values_files: bool, escape: bool
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "hello-1.0.0.tgz"
    _hostile_archive(archive, outside, escape)
    index = (
        "apiVersion: v1\nentries:\n  hello:\n  - name: hello\n    version: 1.0.0\n"
        "    urls: [hello-1.0.0.tgz]\n"
    )

    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        body = index.encode() if h.path == "/index.yaml" else archive.read_bytes()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with serve(handle) as (url, _):
        files = _release_and_repo(url)
        if values_files:
            files["r.yaml"][0]["spec"]["chart"]["spec"]["valuesFiles"] = ["values.yaml"]
        render = one(cluster_repo(tmp_path / "repo", files))
    text = repr(render)
    assert CANARY_FILE not in text and CANARY_ENV not in text
    assert not (tmp_path / "escaped.txt").exists() and not (served.parent.parent / "escaped.txt").exists()
    (release,) = render.helmreleases
    if release.rendered:
        leak = next(o.body for o in render.objects if o.key.kind == "ConfigMap")
        assert all(v == "" for v in leak["data"].values()), leak


def test_an_oversized_oci_chart_is_cut_off_while_helm_pull_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .chart_servers import oci_registry, package, push

    monkeypatch.setattr(charts, "MAX_CHART_BYTES", 8 << 10)
    noise = os.urandom(64 << 10).hex()  # incompressible: the archive is far above 8 KiB
    big = package(tmp_path / "oci-charts", "hello", "1.0.0", template=f"# {noise}\n")
    with oci_registry(tmp_path) as registry:
        push(big, registry)
        request = ChartRequest("oci", f"oci://{registry}/charts/hello", "hello", "1.0.0", plain_http=True)
        cache = ChartCache(tmp_path / "cache")
        cache.helm = find_helm()[0]
        with pytest.raises(ChartUnavailable, match="file too large"):
            cache.fetch(request)
    assert not list((tmp_path / "cache").rglob("*.tgz"))
