"""``reconsent demo --providers emulated``: the demo through the real SDKs and emulated providers.

Both emulators run on 127.0.0.1; the settings point the official SDKs at them
(API key, hosts, account, the demo's auth token, sender numbers, the Event
Webhook public key), so every message really goes through ``POST /v3/mail/send``,
``Messages.json`` and ``Calls.json``.  The simulated customers then read what
the emulators recorded instead of the file outbox: the link of each email as
SendGrid would deliver it (substitutions applied), the link in each SMS body,
the voice URL of each call, which the emulated Twilio plays (TwiML fetch, then
the key on the ``<Gather>`` action, both signed).  The emulators also post their
signed callbacks to the portal: a "delivered" for every email and SMS, the
call's final status, and a few people replying STOP to the SMS.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import httpx

from reconsent.dev.demo.customers import DEMO_ACCOUNT_SID, Customers
from reconsent.dev.emulators.sendgrid import SendGridEmulator
from reconsent.dev.emulators.server import running_server
from reconsent.dev.emulators.twilio import TwilioEmulator

__all__ = ["EmulatedProviders"]

DEMO_SENDGRID_KEY = "SG.demo-emulator-key"
DEMO_SMS_FROM = "+390212345678"  # a number, so people can reply STOP
DEMO_VOICE_FROM = "+390212345679"
#: Share of SMS recipients who reply STOP instead of opening the link.
P_STOP = 0.05
_LINK = re.compile(r"https?://\S+/c/[\w.\-]+")


class EmulatedProviders:
    """The two emulators, served while the demo runs; ``close()`` stops them."""

    def __init__(self, twilio_token: str, seed: int) -> None:
        self.sendgrid = SendGridEmulator(api_key=DEMO_SENDGRID_KEY)
        self.twilio = TwilioEmulator(account_sid=DEMO_ACCOUNT_SID, auth_token=twilio_token)
        self.callbacks: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._stack = ExitStack()
        self._seen: set[str] = set()
        self.sendgrid_url = self._stack.enter_context(running_server(self.sendgrid.app()))
        self.twilio_url = self._stack.enter_context(running_server(self.twilio.app()))

    def close(self) -> None:
        self._stack.close()

    def environment(self) -> dict[str, str]:
        """The provider settings of the demo (the auth token is the demo's webhook token)."""
        return {
            "RECONSENT_CHANNEL_MODE": "providers",
            "RECONSENT_SENDGRID_API_KEY": DEMO_SENDGRID_KEY,
            "RECONSENT_SENDGRID_API_HOST": self.sendgrid_url,
            "RECONSENT_SENDGRID_EVENT_PUBLIC_KEY": self.sendgrid.event_public_key,
            "RECONSENT_TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID,
            "RECONSENT_TWILIO_API_BASE_URL": self.twilio_url,
            "RECONSENT_SMS_FROM": DEMO_SMS_FROM,
            "RECONSENT_VOICE_FROM": DEMO_VOICE_FROM,
        }

    # --- what the customers received ------------------------------------------------------

    def new_entries(self, client: httpx.Client, portal: str, now: datetime) -> list[dict[str, Any]]:
        """What reached people since the last call, after the providers reported it delivered."""
        entries: list[dict[str, Any]] = []
        delivered: list[dict[str, Any]] = []
        for delivery in self.sendgrid.deliveries():
            key = f"email:{delivery.custom_args.get('attempt_id')}"
            link = _LINK.search(delivery.contents.get("text/plain", ""))
            if key in self._seen or link is None:
                continue
            self._seen.add(key)
            entries.append({"channel": "email", "link": link.group(0)})
            delivered.append(self.sendgrid.event(delivery, "delivered", now=now))
        if delivered:
            answer = self.sendgrid.fire_events(
                f"{portal}/webhooks/sendgrid/events", delivered, now=now, client=client
            )
            self.callbacks[f"sendgrid_delivered:{answer.status_code}"] += len(delivered)
        for resource, channel in (("Messages", "sms"), ("Calls", "ivr")):
            for created in self.twilio.created(resource):
                sid = created.sid or ""
                if sid in self._seen:
                    continue
                self._seen.add(sid)
                entries.append(self._twilio_entry(client, channel, sid, created.params))
        return entries

    def _twilio_entry(
        self, client: httpx.Client, channel: str, sid: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        if channel == "ivr":
            return {"channel": "ivr", "sid": sid}
        answer = self.twilio.fire_status_callback(sid, "delivered", client=client)
        self.callbacks[f"twilio_sms_delivered:{answer.status_code}"] += 1
        link = _LINK.search(str(params.get("Body", "")))
        return {"channel": "sms", "sid": sid, "link": link.group(0) if link else ""}

    # --- what the customers do ------------------------------------------------------------

    def act(
        self, entry: dict[str, Any], people: Customers, client: httpx.Client, portal: str
    ) -> bool:
        """Handle an SMS STOP reply or a call; False leaves the entry to the usual link path."""
        if entry["channel"] == "sms" and self._rng.random() < P_STOP:
            to = str(self.twilio.resource(entry["sid"]).params["To"])
            reply = self.twilio.fire_inbound_sms(
                f"{portal}/webhooks/twilio/sms-inbound", from_=to, body="STOP", client=client
            )
            self.callbacks[f"twilio_sms_inbound:{reply.status_code}"] += 1
            people.tally.add("sms", "replied_stop")
            return True
        if entry["channel"] != "ivr":
            return False
        answered_by, keys, what = people.pick_up()
        self.twilio.answer_call(entry["sid"], keys, answered_by=answered_by, client=client)
        answer = self.twilio.fire_status_callback(entry["sid"], "completed", client=client)
        self.callbacks[f"twilio_call_completed:{answer.status_code}"] += 1
        people.tally.add("ivr", what)
        return True
