"""The portal's own words, in Italian and English (English fills any gap).

Templates receive ``t``: a plain mapping of every key for the chosen locale.
Placeholders use ``str.format`` names (``{name}``, ``{controller}``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from types import MappingProxyType

from consent_portal.i18n_codes import CODE_STRINGS
from consent_portal.i18n_home import HOME_STRINGS
from consent_portal.i18n_labels import LABEL_STRINGS
from consent_portal.i18n_receipts import RECEIPT_STRINGS
from consent_portal.i18n_rights import RIGHTS_STRINGS
from reconsent.kernel.locales import DEFAULT_LANGUAGE, supported_language
from reconsent.kernel.rules.quiet_hours import zone as tz_of

DEFAULT_LOCALE = DEFAULT_LANGUAGE

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "language_name": "English",
        "switch_to": "Leggi in italiano",
        "skip": "Skip to content",
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "who_asks": "{controller} asks for your consent, purpose by purpose.",
        "intro": "Nothing is pre-selected: choose Yes or No for each purpose. "
        "You can change your mind at any time.",
        "notice_heading": "Privacy notice",
        "notice_layer": "The notice explains who we are, what data we use and why, how long we "
        "keep it, who receives it and your rights, including withdrawing consent at any time.",
        "read_notice": "Read the full privacy notice",
        "notice_version": "Notice version {version}",
        "choices_heading": "Your choices",
        "yes": "Yes",
        "no": "No",
        "save": "Save my choices",
        "refuse_all": "Refuse all",
        "link_validity": "You can use this link again until it expires "
        "({days} days after we sent it) to change your choices.",
        "contact_us": "Questions? Write to {contact}.",
        "title_landing": "Your consent choices",
        "title_done": "Your choices are saved",
        "done_heading": "Thank you: your choices are saved",
        "done_replay": "This form had already been sent: nothing new was recorded. "
        "To change your choices, open the link again.",
        "given": "Yes, I agree",
        "refused": "No, I do not agree",
        "withdrawn": "Withdrawn",
        "recorded_at": "Recorded on {time} (UTC) under notice version {version}.",
        "change_again": "You can use the same link again until it expires to change your "
        "choices. You can also withdraw your consent at any time by writing to {contact}.",
        "not_chosen": "Not answered",
        "no_choice_title": "Nothing was recorded",
        "no_choice": "Please choose Yes or No for at least one purpose. Nothing was recorded.",
        "back": "Back to the choices",
        "bad_link_title": "This link is not valid",
        "bad_link": "This link is not valid. Please check that you copied it in full, "
        "or contact {controller} at {contact}.",
        "expired_title": "This link has expired",
        "expired": "This link has expired. You can ask for a fresh one with the button "
        "below, or by writing to {controller} at {contact}.",
        "forbidden_title": "This form could not be accepted",
        "forbidden": "This form could not be verified, so nothing was recorded. "
        "Please open the link again and resend your choices.",
        "error_title": "Something went wrong",
        "error": "Your choices could not be recorded. Nothing was saved. "
        "Please try again later or write to {contact}.",
        "optout_title": "Stop all marketing",
        "optout_intro": "{controller} will stop contacting you for marketing on every "
        "channel, and any consent you gave will be withdrawn.",
        "optout_button": "Stop all marketing",
        "optout_done_title": "You will not be contacted again",
        "optout_done": "Done: we will not contact you for marketing again, on any channel. "
        "Any consent you had given is withdrawn.",
    },
    "it": {
        "language_name": "Italiano",
        "switch_to": "Read in English",
        "skip": "Vai al contenuto",
        "greeting": "Gentile {name},",
        "greeting_anonymous": "Gentile cliente,",
        "who_asks": "{controller} le chiede il consenso, finalità per finalità.",
        "intro": "Nessuna scelta è preimpostata: scelga Sì o No per ogni finalità. "
        "Può cambiare idea in qualsiasi momento.",
        "notice_heading": "Informativa privacy",
        "notice_layer": "L'informativa spiega chi siamo, quali dati usiamo e perché, per quanto "
        "tempo li conserviamo, a chi li comunichiamo e i suoi diritti, compresa la revoca del "
        "consenso in qualsiasi momento.",
        "read_notice": "Leggi l'informativa privacy completa",
        "notice_version": "Versione dell'informativa {version}",
        "choices_heading": "Le sue scelte",
        "yes": "Sì",
        "no": "No",
        "save": "Salva le mie scelte",
        "refuse_all": "Rifiuta tutto",
        "link_validity": "Può usare di nuovo questo link fino alla sua scadenza "
        "({days} giorni dall'invio) per cambiare le sue scelte.",
        "contact_us": "Domande? Scriva a {contact}.",
        "title_landing": "Le sue scelte sul consenso",
        "title_done": "Scelte salvate",
        "done_heading": "Grazie: le sue scelte sono state salvate",
        "done_replay": "Questo modulo era già stato inviato: non è stato registrato nulla "
        "di nuovo. Per cambiare le sue scelte apra di nuovo il link.",
        "given": "Sì, acconsento",
        "refused": "No, non acconsento",
        "withdrawn": "Revocato",
        "recorded_at": "Registrato il {time} (UTC) con l'informativa versione {version}.",
        "change_again": "Può usare lo stesso link fino alla sua scadenza per cambiare le sue "
        "scelte. Può anche revocare il consenso in qualsiasi momento scrivendo a {contact}.",
        "not_chosen": "Nessuna risposta",
        "no_choice_title": "Non è stato registrato nulla",
        "no_choice": "Scelga Sì o No per almeno una finalità. Non è stato registrato nulla.",
        "back": "Torna alle scelte",
        "bad_link_title": "Questo link non è valido",
        "bad_link": "Questo link non è valido. Controlli di averlo copiato per intero, "
        "oppure contatti {controller} all'indirizzo {contact}.",
        "expired_title": "Questo link è scaduto",
        "expired": "Questo link è scaduto. Può chiederne uno nuovo con il pulsante qui "
        "sotto, oppure scrivendo a {controller} all'indirizzo {contact}.",
        "forbidden_title": "Il modulo non è stato accettato",
        "forbidden": "Non è stato possibile verificare il modulo, quindi non è stato "
        "registrato nulla. Apra di nuovo il link e invii di nuovo le sue scelte.",
        "error_title": "Si è verificato un problema",
        "error": "Non è stato possibile registrare le sue scelte. Non è stato salvato nulla. "
        "Riprovi più tardi o scriva a {contact}.",
        "optout_title": "Basta comunicazioni commerciali",
        "optout_intro": "{controller} smetterà di contattarla per fini commerciali su tutti "
        "i canali e ogni consenso che ha dato sarà revocato.",
        "optout_button": "Non contattatemi più",
        "optout_done_title": "Non la contatteremo più",
        "optout_done": "Fatto: non la contatteremo più per fini commerciali, su nessun canale. "
        "Ogni consenso che aveva dato è revocato.",
    },
}


def choose_locale(
    requested: str | None, contact_locale: str | None = None, accept_language: str | None = None
) -> str:
    """``?lang=`` first, then the contact's locale, then the browser's, then English."""
    for candidate in (requested, contact_locale):
        lang = supported_language(candidate)
        if lang:
            return lang
    for part in (accept_language or "").split(","):
        lang = supported_language(part.split(";")[0].strip())
        if lang:
            return lang
    return DEFAULT_LOCALE


def page_locale(query_lang: str | None, accept_language: str | None) -> str:
    """The language of a page no link names a person for: ``?lang=``, then the browser's."""
    return choose_locale(query_lang, None, accept_language)


def texts(locale: str) -> Mapping[str, str]:
    """Every string for ``locale``; English fills the gaps."""
    return _texts(supported_language(locale) or DEFAULT_LOCALE)


@cache
def _texts(lang: str) -> Mapping[str, str]:
    merged = {
        **STRINGS[DEFAULT_LOCALE],
        **RIGHTS_STRINGS[DEFAULT_LOCALE],
        **HOME_STRINGS[DEFAULT_LOCALE],
        **LABEL_STRINGS[DEFAULT_LOCALE],
        **RECEIPT_STRINGS[DEFAULT_LOCALE],
        **CODE_STRINGS[DEFAULT_LOCALE],
        **STRINGS[lang],
        **RIGHTS_STRINGS.get(lang, {}),
        **HOME_STRINGS.get(lang, {}),
        **LABEL_STRINGS.get(lang, {}),
        **RECEIPT_STRINGS.get(lang, {}),
        **CODE_STRINGS.get(lang, {}),
    }
    return MappingProxyType(merged)


def other_locale(locale: str) -> str:
    """The language the switch link offers."""
    return "en" if locale == "it" else "it"


def local_time(value: str | None, zone: str | None) -> str:
    """An ISO time as the person's wall-clock time, ``YYYY-MM-DD HH:MM`` ("—" if none)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value[:16]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(tz_of(zone or 'Europe/Rome')):%Y-%m-%d %H:%M}"
