"""fluxfleet: declare a Flux v2 fleet once, then generate, render, check, diff and promote it.

The package is a pure core (``fleet``, ``generate``, ``render``, ``check``, ``diff``, ``promote``)
with I/O kept at the edges (``cli``, ``gitrepo``, ``fsutil``, ``proc``).
"""

__version__ = "0.1.0"
