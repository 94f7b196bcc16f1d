"""Prefect flows: advancing waves (tick) and launching them from the UI."""
