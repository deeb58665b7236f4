"""Charts from remote Flux sources, fetched once into a content-addressed cache (the HTTP/OCI adapter).

The renderer asks for a :class:`ChartRequest` (repository URL, chart, version constraint, tag or
digest) and gets a packaged chart back; it never talks to the network itself.

- HelmRepository (HTTP): ``index.yaml`` is read once per repository per session, the version is
  resolved as source-controller does (exact string match, else the highest version the
  constraint allows, pre-releases only when asked for), and ``urls[0]`` is downloaded relative to
  the repository URL.
- OCI (HelmRepository ``type: oci``, OCIRepository): ``helm pull`` does the registry work, so the
  user's helm registry login (or Docker's ``config.json``) is what authenticates.
- Credentials for HTTP repositories come from the user's helm ``repositories.yaml`` (an entry
  with the same URL); a repository's own ``secretRef`` is never read: the repository may come
  from anyone's pull request.

What a pull request can make the runner fetch: only ``http``/``https`` (index and charts) and
``oci://`` (registries), never ``file://``; never a link-local, unspecified, multicast or cloud
metadata address (169.254.169.254 and friends), checked on the resolved name and again on the
connected socket, and on every redirect (at most 5, to http/https only, credentials never
forwarded). Loopback and private addresses stay allowed: internal chart mirrors live there.
Downloads are bounded in size and in total time; ``--offline`` (or ``FLUXFLEET_OFFLINE=1``)
fetches nothing.

Archives are stored once by their SHA-256 (``blobs/``); small records map the exact
(kind, URL, chart, version or digest) and the requested constraint to a blob, so a chart is
downloaded once per version however many releases use it. ``offline`` answers from the records
only and names what is missing.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import os
import re
import resource
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.proc import ToolError, run
from fluxfleet.render import sandbox, semver

FORMAT = "v1"
HTTP_TIMEOUT = 30.0  # per connect or read
HTTP_DEADLINE = 120.0  # per download, however slowly the server drips
MAX_REDIRECTS = 5
PULL_TIMEOUT = 120.0
MAX_INDEX_BYTES = 64 << 20
MAX_CHART_BYTES = 64 << 20


def default_dir() -> Path:
    return Path(platformdirs.user_cache_dir("fluxfleet")) / f"charts-{FORMAT}"


class ChartUnavailable(Exception):
    """The chart cannot be had; the message is the lasting reason shown for the HelmRelease."""


@dataclass(frozen=True)
class ChartRequest:
    kind: str  # "http" | "oci"
    url: str  # http(s)://repo, or oci://host/path/chart (chart included)
    chart: str
    version: str = ""  # constraint, exact version or OCI tag; "" = latest stable (http) / "latest" tag
    digest: str = ""  # OCI manifest digest pin (wins over version)
    plain_http: bool = False  # OCI over plain HTTP (``insecure: true``)
    semver: bool = True  # the version is a constraint (HelmRepository, OCIRepository ``semver``)

    def label(self) -> str:
        pin = self.digest or self.version or "latest"
        return f"{self.chart} {pin} from {self.url}"


@dataclass(frozen=True)
class FetchedChart:
    archive: Path
    version: str  # the resolved chart version (or tag)
    digest: str  # the archive's sha256, or the OCI manifest digest when pulled from a registry


@dataclass
class ChartStats:
    downloads: int = 0
    index_reads: int = 0
    hits: int = 0


def _exact(version: str) -> bool:
    return semver.parse(version, strict=True) is not None and version == version.strip()


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass
class ChartCache:
    """Charts fetched on demand; one per render session (it memoises index reads)."""

    directory: Path = field(default_factory=default_dir)
    offline: bool = False
    helm: str | None = None
    stats: ChartStats = field(default_factory=ChartStats)
    _indexes: dict[str, dict[str, Any] | ChartUnavailable] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- records ---------------------------------------------------------------------------------

    def _record_path(self, key: str) -> Path:
        return self.directory / "refs" / key[:2] / f"{key}.json"

    def _read_record(self, key: str) -> FetchedChart | None:
        try:
            data = json.loads(self._record_path(key).read_text(encoding="utf-8"))
            blob = self.directory / "blobs" / f"{data['blob']}.tgz"
            if not blob.is_file():
                return None
            return FetchedChart(blob, str(data["version"]), str(data["digest"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_record(self, key: str, chart: FetchedChart) -> None:
        target = self._record_path(key)
        payload = {"blob": chart.archive.stem, "version": chart.version, "digest": chart.digest}
        _atomic_write(target, json.dumps(payload).encode())

    def _store_blob(self, data: bytes) -> Path:
        digest = hashlib.sha256(data).hexdigest()
        target = self.directory / "blobs" / f"{digest}.tgz"
        if not target.is_file():
            _atomic_write(target, data)
        return target

    # -- public ----------------------------------------------------------------------------------

    def fetch(self, request: ChartRequest) -> FetchedChart:
        with self._lock:
            return self._fetch(request)

    def _fetch(self, request: ChartRequest) -> FetchedChart:
        wanted = _key(request.kind, request.url, request.chart, "want", request.digest or request.version)
        # an exact version is fetched once; OCI tags like 1.2.3 are treated as immutable too,
        # so a warm cache needs no registry (ranges and tags like "latest" are resolved again)
        pinned = bool(request.digest) or _exact(request.version)
        if pinned or self.offline:
            found = self._read_record(wanted)
            if found is not None:
                self.stats.hits += 1
                return found
            if self.offline:
                raise ChartUnavailable("not in the chart cache (--offline)")
        chart = self._http(request) if request.kind == "http" else self._oci(request)
        self._write_record(wanted, chart)
        return chart

    # -- HTTP repositories -----------------------------------------------------------------------

    def _index(self, url: str) -> dict[str, Any]:
        cached = self._indexes.get(url)
        if isinstance(cached, ChartUnavailable):
            raise cached
        if cached is not None:
            return cached
        try:
            self.stats.index_reads += 1
            data = _http_get(_join(url, "index.yaml"), url, MAX_INDEX_BYTES)
            docs = yamlio.load_all(data.decode("utf-8", errors="replace"), f"{url}/index.yaml")
            index = docs[0] if docs and isinstance(docs[0], dict) else None
            if index is None or not isinstance(index.get("entries"), dict):
                raise ChartUnavailable(f"{url}/index.yaml is not a Helm repository index")
        except FleetError as exc:
            error = ChartUnavailable(f"{url}/index.yaml does not parse: {exc.message}")
            self._indexes[url] = error
            raise error from None
        except ChartUnavailable as exc:
            self._indexes[url] = exc
            raise
        self._indexes[url] = index
        return index

    def _http(self, request: ChartRequest) -> FetchedChart:
        index = self._index(request.url)
        entries = index["entries"].get(request.chart)
        if not isinstance(entries, list) or not entries:
            raise ChartUnavailable(f"chart {request.chart!r} is not in {request.url}/index.yaml")
        by_version: dict[str, dict[str, Any]] = {}
        for entry in entries:
            if isinstance(entry, dict) and entry.get("version") is not None:
                by_version.setdefault(str(entry["version"]), entry)
        try:
            version = semver.highest(request.version or "*", by_version)
        except semver.ConstraintError as exc:
            raise ChartUnavailable(f"version {request.version!r}: {exc}") from None
        if version is None:
            raise ChartUnavailable(
                f"no version of chart {request.chart!r} in {request.url} matches {request.version or '*'!r}"
            )
        exact = _key(request.kind, request.url, request.chart, "version", version)
        found = self._read_record(exact)
        if found is not None:
            self.stats.hits += 1
            return found
        urls = by_version[version].get("urls")
        if not isinstance(urls, list) or not urls:
            raise ChartUnavailable(f"chart {request.chart} {version} has no download URL in the index")
        data = _http_get(_join(request.url, str(urls[0])), request.url, MAX_CHART_BYTES)
        self.stats.downloads += 1
        blob = self._store_blob(data)
        chart = FetchedChart(blob, version, blob.stem)
        self._write_record(exact, chart)
        return chart

    # -- OCI registries --------------------------------------------------------------------------

    def _oci(self, request: ChartRequest) -> FetchedChart:
        if self.helm is None:
            raise ChartUnavailable("fetching an OCI chart needs helm, and no helm binary was found")
        if request.digest:
            ref, version_args = f"{request.url}@{request.digest}", []
        elif request.semver and request.version and not _exact(request.version):
            ref, version_args = request.url, ["--version", request.version]
        else:
            ref, version_args = f"{request.url}:{(request.version or 'latest').replace('+', '_')}", []
        host = urllib.parse.urlparse(request.url.replace("oci://", "https://", 1)).hostname or ""
        check_host(host, request.url)
        scratch = tempfile.mkdtemp(prefix="fluxfleet-pull-")
        try:
            argv = [self.helm, "pull", ref, *version_args, "--destination", scratch]
            if request.plain_http:
                argv.append("--plain-http")
            # helm pull keeps the caller's environment (registry logins live there) but not its
            # terminal, and gets memory and CPU limits and a process group killed on a timeout
            limits = sandbox.Confinement(None, sandbox.MEMORY_LIMIT, int(PULL_TIMEOUT) + 1).preexec()

            def preexec() -> None:  # and no file it writes may grow past the chart size limit
                limits()
                resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_CHART_BYTES + 1, MAX_CHART_BYTES + 1))

            try:
                result = run(
                    argv,
                    cwd=scratch,
                    timeout=PULL_TIMEOUT,
                    what="helm pull",
                    preexec=preexec,
                    own_group=True,
                )
            except ToolError as exc:
                raise ChartUnavailable(_short(exc.message)) from None
            archives = sorted(Path(scratch).glob("*.tgz"))
            if len(archives) != 1:
                raise ChartUnavailable(f"helm pull {ref} left no chart archive")
            output = result.text + result.stderr.decode("utf-8", errors="replace")
            digest = re.search(r"Digest:\s*(sha256:[0-9a-f]{64})", output)
            if archives[0].stat().st_size > MAX_CHART_BYTES:
                raise ChartUnavailable(f"helm pull {ref}: larger than {MAX_CHART_BYTES >> 20} MiB")
            data = archives[0].read_bytes()
            self.stats.downloads += 1
            blob = self._store_blob(data)
            version = archives[0].name.removeprefix(f"{request.chart}-").removesuffix(".tgz")
            return FetchedChart(blob, version, digest.group(1) if digest else blob.stem)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _join(base: str, ref: str) -> str:
    return urllib.parse.urljoin(base.rstrip("/") + "/", ref)


def _short(message: str) -> str:
    return message.strip().splitlines()[-1] if message.strip() else message


def helm_repository_auth(url: str) -> str | None:
    """``Basic …`` for the entry of helm's repositories.yaml with this URL, if it has credentials."""
    config = os.environ.get("HELM_REPOSITORY_CONFIG") or str(
        Path(platformdirs.user_config_dir("helm", appauthor=False)) / "repositories.yaml"
    )
    try:
        docs = yamlio.load_all(Path(config).read_text(encoding="utf-8"), config)
    except (OSError, FleetError):
        return None
    repos = docs[0].get("repositories") if docs and isinstance(docs[0], dict) else None
    for entry in repos if isinstance(repos, list) else []:
        if not isinstance(entry, dict) or str(entry.get("url") or "").rstrip("/") != url.rstrip("/"):
            continue
        user, password = entry.get("username"), entry.get("password")
        if user:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            return f"Basic {token}"
    return None


class FetchRefused(ChartUnavailable):
    """A URL fluxfleet will not fetch from, whoever wrote it (see the module notes)."""


# Metadata services that answer on addresses the generic checks below let through.
_METADATA = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


def refused_address(address: str) -> bool:
    """An address no chart source may point at: link-local (cloud metadata), unspecified, multicast."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    reserved = ip.is_reserved and ip.version == 4  # IPv6 "reserved" covers ::1
    return ip.is_link_local or ip.is_unspecified or ip.is_multicast or reserved or ip in _METADATA


def check_host(host: str, url: str) -> None:
    """Refuse a host that is, or resolves to, a refused address (DNS failures are left to the fetch)."""
    if not host:
        raise FetchRefused(f"{url}: no host to fetch from")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return
    for info in infos:
        if refused_address(str(info[4][0])):
            raise FetchRefused(
                f"{url}: {host} is a link-local or metadata address; charts are not fetched from it"
            )


def _checked(sock: socket.socket, host: str) -> None:
    # the address actually connected to: a name that resolved differently the second time
    # (DNS rebinding) is caught here
    peer = sock.getpeername()[0]
    if refused_address(str(peer)):
        sock.close()
        raise FetchRefused(f"{host} connected to {peer}, a link-local or metadata address")


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        if getattr(self, "_tunnel_host", None) is None:
            _checked(self.sock, self.host)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        if getattr(self, "_tunnel_host", None) is None:
            _checked(self.sock, self.host)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req)


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = urllib.parse.urlparse(newurl)
        if target.scheme not in ("http", "https"):
            raise FetchRefused(f"{req.full_url} redirects to {newurl}: only http and https are followed")
        check_host(target.hostname or "", newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _Redirects)


def _http_get(url: str, repo_url: str, limit: int) -> bytes:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(f"{url}: only http and https chart repositories can be fetched")
    check_host(parsed.hostname or "", url)
    request = urllib.request.Request(url, headers={"User-Agent": "fluxfleet"})
    same_host = urllib.parse.urlparse(repo_url).netloc == parsed.netloc
    auth = helm_repository_auth(repo_url) if same_host else None
    if auth:
        request.add_unredirected_header("Authorization", auth)  # never sent on to a redirect target
    deadline = time.monotonic() + HTTP_DEADLINE
    chunks: list[bytes] = []
    size = 0
    try:
        with _OPENER.open(request, timeout=HTTP_TIMEOUT) as response:
            while size <= limit:
                if time.monotonic() > deadline:
                    raise ChartUnavailable(f"GET {url}: not done within {HTTP_DEADLINE:.0f}s")
                chunk: bytes = response.read1(min(1 << 16, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as exc:
        raise ChartUnavailable(f"GET {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ChartUnavailable):
            raise reason from None
        raise ChartUnavailable(f"GET {url}: {reason}") from None
    if size > limit:
        raise ChartUnavailable(f"GET {url}: larger than {limit >> 20} MiB")
    return b"".join(chunks)


def _atomic_write(target: Path, data: bytes) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".part.", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError:
        return  # a cache that cannot be written only costs a download next time
