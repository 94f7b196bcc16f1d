"""Alembic migration history (``reconsent db upgrade`` runs it)."""
