"""reconsent: a multichannel GDPR re-consent campaign orchestrator.

The package holds the core: settings, the clock, pure rules, the database
module, imports and the CLI.  Sibling top-level packages hold the edges:
``models`` (SQLAlchemy schema), ``channels`` (provider adapters),
``flows`` (Prefect flows) and ``consent_portal`` (the Starlette app).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
