"""Channel adapters: the provider edge of reconsent (SendGrid email, Twilio SMS and calls).

``channels.base`` is the interface, ``channels.render`` / ``channels.ivr`` the
pure rendering, ``channels.errors`` the one error classification, and
``channels.wiring`` builds the adapters from settings.  Nothing is imported
here: importing the package has no side effects.
"""
