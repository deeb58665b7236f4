"""The fleet model: load and validate ``fleet.yaml``, label selectors, and placement.

Knows nothing of files beyond reading the definition, nor of git or kustomize.
"""
