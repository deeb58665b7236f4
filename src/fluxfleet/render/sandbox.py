"""Confine a kustomize build: what it may read, how much memory and time it may use, what it sees.

The planner already refuses any path that leaves the source root; this is the second wall, for a
field it might miss. On Linux with Landlock (5.13+), the build process may read only its scratch
root (a copy of exactly the collected files) and execute only the engine binary, and it may open no
TCP connection: the equivalent of Flux's secure file system (fluxcd/pkg ``kustomize/filesys``),
enforced by the kernel. Where Landlock is missing the build still runs, confined by the planner
alone (and by kustomize's own root-only restrictor when the build allows it).

Every build also gets an address-space and CPU-time limit, and an environment holding nothing of
the caller's (no tokens for a generator to read).
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Go reserves about 600 MiB of address space at start; 4 GiB leaves a large build room and stops a
# runaway one long before the machine swaps.
MEMORY_LIMIT = 4 * 1024**3

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SYSTEM_DIRS = ("/usr/bin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/bin", "/lib", "/lib64")
_SYSTEM_FILES = ("/etc/ld.so.cache",)


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when there is none (not Linux, too old, or disabled)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "syscall") or os.uname().sysname != "Linux":
        return 0
    version = int(libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION))
    return max(version, 0)


def _handled_fs(abi: int) -> int:
    # v1: 13 rights; v2 adds REFER, v3 TRUNCATE, v5 IOCTL_DEV. Every one handled means denied
    # unless a rule grants it.
    bits = 13 + (abi >= 2) + (abi >= 3)
    handled = (1 << bits) - 1
    if abi >= 5:
        handled |= 1 << 15
    return handled


@dataclass(frozen=True)
class Confinement:
    """What the child needs to confine itself: a prepared ruleset (or none) and its limits."""

    ruleset_fd: int | None
    memory: int
    cpu_seconds: int

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return () if self.ruleset_fd is None else (self.ruleset_fd,)

    def preexec(self) -> Callable[[], None]:
        libc = _libc()
        fd = self.ruleset_fd
        memory, cpu = self.memory, self.cpu_seconds

        def confine() -> None:  # runs in the child: a few system calls, nothing else
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            if fd is not None and libc is not None:
                if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                    os._exit(126)
                if libc.syscall(_SYS_RESTRICT_SELF, fd, 0) != 0:
                    os._exit(126)  # never run unconfined once confinement was promised
                os.close(fd)

        return confine


class SandboxError(Exception):
    """The kernel offers Landlock but refused the ruleset (a bug or an unusual kernel)."""


@contextmanager
def confined(readable: Path, binary: str, *, timeout: float) -> Iterator[Confinement]:
    """A confinement reading only ``readable`` and executing only ``binary``; closes its ruleset."""
    cpu = int(timeout) + 1
    abi = landlock_abi()
    libc = _libc()
    if abi < 1 or libc is None:
        yield Confinement(None, MEMORY_LIMIT, cpu)
        return
    attr = _RulesetAttr(_handled_fs(abi), _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0, 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    fd = int(libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0))
    if fd < 0:
        raise SandboxError(f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    rules: list[tuple[Path, int]] = [
        (readable, _READ_FILE | _READ_DIR),
        (Path(binary), _EXECUTE | _READ_FILE),
    ]
    # A dynamically linked engine or a wrapper script needs its loader, libraries and interpreter:
    # programs and libraries may run, but nothing there is a user's file.
    rules += [(Path(p), _EXECUTE | _READ_FILE | _READ_DIR) for p in _SYSTEM_DIRS if os.path.isdir(p)]
    rules += [(Path(p), _READ_FILE) for p in _SYSTEM_FILES if os.path.isfile(p)]
    try:
        for path, access in rules:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, target)
                if libc.syscall(_SYS_ADD_RULE, fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
                    raise SandboxError(f"landlock_add_rule({path}): {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(target)
        yield Confinement(fd, MEMORY_LIMIT, cpu)
    finally:
        os.close(fd)


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a build: nothing of the caller's except the Go runtime's own tuning."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    for name in ("GOGC", "GOMEMLIMIT", "GOMAXPROCS"):
        value = os.environ.get(name)
        if value:
            env[name] = value
    return env
