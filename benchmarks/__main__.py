"""``make bench``: run every benchmark module and print its lines."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    only = sys.argv[1:]
    for name in names:
        if only and name.removeprefix("bench_") not in only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        start = time.perf_counter()
        lines = module.main()
        print(f"## {name.removeprefix('bench_')} ({time.perf_counter() - start:.0f}s)")
        for line in lines:
            print(f"  {line}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
