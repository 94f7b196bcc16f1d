"""Channel adapters: the provider edge of reconsent (SendGrid email, Twilio SMS and calls).

The port they implement is :mod:`reconsent.kernel.ports`; provider answers are
classified by :mod:`reconsent.kernel.rules.provider_answers`.  Here:
rendering (``message_render``, ``ivr_twiml``, ``sms_reply_twiml``), the
adapters (``outbox``, ``sendgrid_email``, ``twilio_sms``, ``twilio_calls``).
:mod:`reconsent.wiring` builds them from settings.  This package imports only
the kernel; importing it has no side effects.
"""
