"""Promotion: versions per environment, gates, waves, rollback and the audit history in git."""
