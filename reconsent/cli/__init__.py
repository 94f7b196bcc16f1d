"""The ``reconsent`` command line (Typer)."""
