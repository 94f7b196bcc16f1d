"""Retention: who is due for minimisation, and reducing them to their suppression hashes.

The rule is :mod:`reconsent.kernel.rules.retention_policy`; :mod:`.people_due` reads
the facts it needs, :mod:`.minimisation` applies it (``reconsent retention
apply``, the ``apply-retention`` flow).
"""
