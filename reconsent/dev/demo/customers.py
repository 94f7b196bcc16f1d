"""Simulated customers: they really follow the links in the outbox against the
running portal over HTTP, and answer calls through the signed voice webhooks.

Behaviour is drawn from a seeded RNG so a demo run is reproducible.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx
from twilio.request_validator import RequestValidator

#: The Twilio account of the demo (the voice webhooks check it on every request).
DEMO_ACCOUNT_SID = "AC" + "de" * 16
MAX_QUESTIONS = 8  # keys ready for the longest call; a call asks one purpose per question


class _FormParser(HTMLParser):
    """Collects the first POST form's hidden fields and radio groups."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and self.action is None:
            self.action, self._in_form = a.get("action", ""), True
        elif tag == "input" and self._in_form:
            if a.get("type") == "hidden":
                self.hidden[a["name"]] = a.get("value", "")
            elif a.get("type") == "radio":
                self.radios.setdefault(a["name"], []).append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


@dataclass
class Tally:
    """What the simulated people did, per channel (counts only)."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, channel: str, what: str) -> None:
        self.counts[f"{channel}:{what}"] += 1


class Customers:
    def __init__(self, client: httpx.Client, twilio_token: str, seed: int = 11) -> None:
        self.client = client
        self.validator = RequestValidator(twilio_token)
        self.rng = random.Random(seed)
        self.tally = Tally()

    # -- links (email, SMS) -------------------------------------------------
    def follow_link(self, channel: str, link: str, p_open: float) -> None:
        """Maybe open the link; then accept all, accept some, or refuse all."""
        if self.rng.random() >= p_open:
            self.tally.add(channel, "ignored")
            return
        page = self.client.get(link)
        if page.status_code != 200:
            self.tally.add(channel, f"page_{page.status_code}")
            return
        form = _FormParser()
        form.feed(page.text)
        data = dict(form.hidden)
        roll = self.rng.random()
        if roll < 0.15:
            data["action"], what = "refuse_all", "refused_all"
        else:
            data["action"] = "save"
            some = roll < 0.35
            for name in form.radios:
                data[name] = "no" if some and self.rng.random() < 0.5 else "yes"
            what = "accepted_some" if some else "accepted_all"
        answer = self.client.post(urljoin(link, form.action or link), data=data)
        self.tally.add(channel, what if answer.status_code == 200 else f"post_{answer.status_code}")

    # -- calls (IVR) --------------------------------------------------------
    def pick_up(self) -> tuple[str, list[str], str]:
        """How a call goes: (AnsweredBy, the keys pressed question after question, what
        to tally). A call asks one purpose at a time; the keys stop when it ends."""
        roll = self.rng.random()
        if roll < 0.15:
            return "machine_end_beep", [], "voicemail"
        if roll < 0.35:
            return "human", ["1"] * MAX_QUESTIONS, "pressed_1_to_every_question"
        if roll < 0.50:
            keys = [self.rng.choice("12") for _ in range(MAX_QUESTIONS)]
            return "human", keys, "answered_question_by_question"
        if roll < 0.60:
            return "human", ["2"] * MAX_QUESTIONS, "pressed_2_to_every_question"
        if roll < 0.65:
            return "human", ["9"], "pressed_9_never_call"
        if roll < 0.70:
            return "human", ["3"], "pressed_3_sms_link"
        return "human", [], "hung_up_no_key"

    def answer_call(self, voice_url: str, *, to: str, account_sid: str) -> None:
        """Pick up (or let voicemail answer), then answer the questions one by one, each
        on the ``<Gather>`` the last answer returned, as Twilio would post them."""
        call_sid = "CA" + "".join(self.rng.choice("0123456789abcdef") for _ in range(32))
        answered_by, keys, what = self.pick_up()
        base = {
            "CallSid": call_sid,
            "AccountSid": account_sid,
            "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "From": "+390212345679",
            "To": to,
            "AnsweredBy": answered_by,
        }
        twiml = self._post(voice_url, base)
        for key in keys:
            action = gather_action(twiml)
            if action is None:
                break
            twiml = self._post(action, {**base, "Digits": key})
        self.tally.add("ivr", what)

    def _post(self, url: str, params: dict[str, str]) -> str:
        signature = self.validator.compute_signature(url, params)
        response = self.client.post(url, data=params, headers={"X-Twilio-Signature": signature})
        response.raise_for_status()
        return response.text


def gather_action(twiml: str) -> str | None:
    """The ``action`` of a TwiML response's ``<Gather>`` (None: the call ends)."""
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - TwiML from the demo's own portal
    except ET.ParseError:
        return None
    gather = root.find("Gather")
    return None if gather is None else gather.get("action")
