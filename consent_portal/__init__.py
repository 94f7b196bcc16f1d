"""The consent portal: signed-link landing pages, one-click opt-out, Twilio voice webhooks.

Build it with :func:`consent_portal.app.create_app`; nothing runs at import time.
"""
