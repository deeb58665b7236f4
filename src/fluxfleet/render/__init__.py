"""Offline Flux: what kustomize-controller would apply on every cluster of any Flux repository."""
