"""The fleet service (``fluxfleet serve``): the Flux event receiver, the status API, the evidence
the promotion gates ask for, approvals and the audit log, over :mod:`fluxfleet.store`.

Web dependencies (Starlette, uvicorn, SQLAlchemy) are the optional ``serve`` extra and are imported
only when a service command runs, so ``fluxfleet --help`` stays light.
"""
