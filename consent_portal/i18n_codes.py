"""The words of the one-time code pages and the preference centre (Italian, English).

Merged into :func:`consent_portal.i18n.texts`; English fills any gap.
"""

from __future__ import annotations

CODE_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "home_code_heading": "Your choices and your data, without our message",
        "home_code_text": "Type the e-mail address or the mobile number we know you by. If we "
        "hold it, we send a one-time code to it: with the code you can see and change all your "
        "choices, see, download or erase your data, or stop all marketing.",
        "home_code_label": "E-mail address or mobile number",
        "home_code_button": "Send me a code",
        "title_code": "Type your code",
        "code_sent": "If we hold this address, we have just sent a six-digit code to it. It is "
        "valid for {minutes} minutes and only once. It can take a minute to arrive.",
        "code_label": "Six-digit code",
        "code_help": "Only the digits: spaces do not matter.",
        "code_button": "Continue",
        "code_start_again": "Ask for a new code",
        "code_wrong": "That code is not right. Tries left: {left}.",
        "code_locked_title": "Too many wrong codes",
        "code_locked": "Too many wrong codes: for your protection no new code can be asked for "
        "this address for a while. Please try again later, or write to {contact}.",
        "code_expired_title": "This code is no longer valid",
        "code_expired": "This code has expired or was already used. Please ask for a new one.",
        "code_limited_title": "Too many codes asked",
        "code_limited": "Too many codes were asked in a short time. Please wait and try again, "
        "or write to {contact}.",
        "code_bad_address_title": "We could not read this address",
        "code_bad_address": "Please type a complete e-mail address (name@example.com) or a "
        "mobile number with its country code (+39 333 123 4567).",
        "code_needed_title": "First confirm it is you",
        "code_needed": "To see, download or erase your data we first send a one-time code to "
        "the address we wrote to. Nothing was done.",
        "session_needed_title": "Your session has ended",
        "session_needed": "To see or change your choices, ask for a one-time code on our home "
        "page. Nothing was changed.",
        "session_home": "Ask for a code",
        "rights_code_heading": "See, download or erase your data",
        "rights_code_text": "To protect your data, even if this link was forwarded, we first "
        "send a one-time code to the address or number we wrote to.",
        "rights_code_button": "Send me a code",
        "title_prefs": "Your privacy choices",
        "prefs_intro": "Here are all the choices you have made with {controller}. Change any of "
        "them whenever you like: a change applies at once.",
        "prefs_how": "Yes or No for each purpose. A purpose you leave as it is does not change.",
        "prefs_now": "Now: {state}",
        "prefs_saved_title": "Your choices are saved",
        "prefs_saved": "Done: your changes are recorded and apply from now on.",
        "prefs_unchanged": "Nothing had changed, so nothing new was recorded.",
        "prefs_back": "Back to your choices",
        "prefs_session": "For your safety this page stays open for a few minutes only; after "
        "that, ask for a new code.",
    },
    "it": {
        "home_code_heading": "Le sue scelte e i suoi dati, senza il nostro messaggio",
        "home_code_text": "Scriva l'indirizzo email o il numero di cellulare con cui la "
        "conosciamo. Se lo abbiamo, le inviamo un codice monouso: con il codice può vedere e "
        "cambiare tutte le sue scelte, vedere, scaricare o cancellare i suoi dati, o fermare "
        "tutte le comunicazioni commerciali.",
        "home_code_label": "Indirizzo email o numero di cellulare",
        "home_code_button": "Inviatemi un codice",
        "title_code": "Inserisca il codice",
        "code_sent": "Se abbiamo questo indirizzo, le abbiamo appena inviato un codice di sei "
        "cifre. Vale {minutes} minuti e una sola volta. Può impiegare un minuto ad arrivare.",
        "code_label": "Codice di sei cifre",
        "code_help": "Solo le cifre: gli spazi non contano.",
        "code_button": "Continua",
        "code_start_again": "Chieda un nuovo codice",
        "code_wrong": "Il codice non è corretto. Tentativi rimasti: {left}.",
        "code_locked_title": "Troppi codici sbagliati",
        "code_locked": "Troppi codici sbagliati: per la sua sicurezza per un po' non si possono "
        "chiedere nuovi codici per questo indirizzo. Riprovi più tardi o scriva a {contact}.",
        "code_expired_title": "Questo codice non è più valido",
        "code_expired": "Il codice è scaduto o è già stato usato. Ne chieda uno nuovo.",
        "code_limited_title": "Troppi codici richiesti",
        "code_limited": "Sono stati chiesti troppi codici in poco tempo. Attenda e riprovi, o "
        "scriva a {contact}.",
        "code_bad_address_title": "Non riusciamo a leggere questo indirizzo",
        "code_bad_address": "Scriva un indirizzo email completo (nome@esempio.it) o un numero "
        "di cellulare con il prefisso internazionale (+39 333 123 4567).",
        "code_needed_title": "Prima confermi che è lei",
        "code_needed": "Per vedere, scaricare o cancellare i suoi dati le inviamo prima un "
        "codice monouso all'indirizzo a cui abbiamo scritto. Non è stato fatto nulla.",
        "session_needed_title": "La sessione è terminata",
        "session_needed": "Per vedere o cambiare le sue scelte chieda un codice monouso nella "
        "nostra pagina principale. Non è stato cambiato nulla.",
        "session_home": "Chieda un codice",
        "rights_code_heading": "Vedere, scaricare o cancellare i suoi dati",
        "rights_code_text": "Per proteggere i suoi dati, anche se questo link fosse stato "
        "inoltrato, le inviamo prima un codice monouso all'indirizzo o al numero a cui abbiamo "
        "scritto.",
        "rights_code_button": "Inviatemi un codice",
        "title_prefs": "Le sue scelte sulla privacy",
        "prefs_intro": "Ecco tutte le scelte che ha fatto con {controller}. Le cambi quando "
        "vuole: ogni modifica vale subito.",
        "prefs_how": "Sì o No per ogni finalità. Una finalità lasciata com'è non cambia.",
        "prefs_now": "Ora: {state}",
        "prefs_saved_title": "Scelte salvate",
        "prefs_saved": "Fatto: le modifiche sono registrate e valgono da adesso.",
        "prefs_unchanged": "Non era cambiato nulla, quindi non è stato registrato nulla di nuovo.",
        "prefs_back": "Torna alle sue scelte",
        "prefs_session": "Per la sua sicurezza questa pagina resta aperta solo pochi minuti; "
        "poi chieda un nuovo codice.",
    },
}
