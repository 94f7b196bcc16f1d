"""The words of the portal's home page (``/`` and ``/privacy``), in Italian and English."""

from __future__ import annotations

HOME_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title_home": "Your privacy choices",
        "home_heading": "Your privacy choices with {controller}",
        "home_who": "If you received an e-mail, a text message or a call from {controller} "
        "asking for your consent, it came from us: we ask people who once agreed to hear from "
        "us whether they still want to, purpose by purpose, and we never take silence as a yes.",
        "home_how_heading": "How to choose",
        "home_how": "Open the link in our message: it shows the privacy notice and one Yes/No "
        "question per purpose. Nothing is pre-selected, and you can change your mind at any "
        "time with the same link.",
        "home_fresh_heading": "If your link has expired or you lost our message",
        "home_fresh": "Open the expired link and ask for a fresh one with the button on that "
        "page: we send it to the address or number we wrote to, never anywhere else. Without "
        "our message, write to {contact} from the address we used.",
        "home_stop_heading": "To stop hearing from us",
        "home_stop": "Use the opt-out link at the end of any of our messages, reply STOP to "
        "our texts (STOPALL stops every channel), or press 9 during our call. The full notice "
        "explains your rights: access, correction, erasure, restriction, portability, "
        "objection, and a complaint to the supervisory authority (in Italy, the Garante per "
        "la protezione dei dati personali).",
        "home_notice": "Read our privacy notice",
    },
    "it": {
        "title_home": "Le sue scelte sulla privacy",
        "home_heading": "Le sue scelte sulla privacy con {controller}",
        "home_who": "Se ha ricevuto un'email, un SMS o una chiamata da {controller} che le "
        "chiedeva il consenso, veniva da noi: chiediamo a chi in passato ha accettato di "
        "ricevere le nostre comunicazioni se lo desidera ancora, finalità per finalità, e non "
        "consideriamo mai il silenzio un sì.",
        "home_how_heading": "Come scegliere",
        "home_how": "Apra il link nel nostro messaggio: mostra l'informativa sulla privacy e "
        "una domanda Sì/No per ogni finalità. Nulla è preselezionato e può cambiare idea in "
        "qualsiasi momento con lo stesso link.",
        "home_fresh_heading": "Se il link è scaduto o non ha più il nostro messaggio",
        "home_fresh": "Apra il link scaduto e ne chieda uno nuovo con il pulsante in quella "
        "pagina: lo inviamo all'indirizzo o al numero a cui abbiamo scritto, mai altrove. Senza "
        "il nostro messaggio, scriva a {contact} dall'indirizzo che abbiamo usato.",
        "home_stop_heading": "Per non ricevere più nostre comunicazioni",
        "home_stop": "Usi il link di disiscrizione in fondo a ogni nostro messaggio, risponda "
        "STOP ai nostri SMS (STOPALL ferma tutti i canali) o prema 9 durante la nostra "
        "chiamata. L'informativa completa spiega i suoi diritti: accesso, rettifica, "
        "cancellazione, limitazione, portabilità, opposizione e reclamo al Garante per la "
        "protezione dei dati personali.",
        "home_notice": "Legga la nostra informativa sulla privacy",
    },
}
