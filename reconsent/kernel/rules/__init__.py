"""Pure rules: plain functions over data, no I/O, tested without a database."""
