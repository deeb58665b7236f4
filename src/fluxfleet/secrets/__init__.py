"""Secrets: age keys, ``.sops.yaml`` rules, and encrypt/decrypt/edit/rotate through the real sops.

Decrypted content lives only in memory, or for ``edit`` in one 0600 file inside a private 0700
directory that is removed on every exit path. Nothing here renders or checks manifests.
"""
