"""Emulated providers (SendGrid, Twilio) served on 127.0.0.1, for tests, the demo and benchmarks.

Each emulator is a plain, thread-safe state object whose ``app()`` builds a
Starlette app; :func:`reconsent.dev.emulators.server.running_server` serves it.
Nothing starts at import time.
"""
