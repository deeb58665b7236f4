"""The "editor" fluxfleet hands to ``sops edit``: copy stdin into the file sops opened.

Run as ``python -m fluxfleet.secrets.feeder <file>``. It works once per edit: if sops calls it
again (sops re-opens the editor after a rejected result) it fails, so sops gives up instead of
looping; ``FLUXFLEET_FEEDER_STAMP`` names the file that marks the first call.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        return 2
    stamp = os.environ.get("FLUXFLEET_FEEDER_STAMP")
    if stamp:
        try:
            fd = os.open(stamp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            sys.stderr.write("fluxfleet: sops rejected the edited content\n")
            return 1
        os.close(fd)
    data = sys.stdin.buffer.read()
    fd = os.open(argv[-1], os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
