"""The contact centre's journey: API keys, the contactability check, operator capture and
the incremental export of consent changes (no HTTP: ``operator_api`` serves them)."""
