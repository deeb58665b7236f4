"""Promotion: versions per environment, gates, waves, rollback and the audit history in git."""

# Push attempts when a push loses a race: enough for a busy fleet repository (8 promoters racing on
# one remote all land). Here, not in apply.py, so the CLI can show the default without loading it.
DEFAULT_RETRIES = 30
