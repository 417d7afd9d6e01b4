"""The words of the automatic answers to patients' replies, in every language the parser reads.

Short and free of PHI: a text may name the clinic, its phone number and the booking link, and
nothing about the patient or the appointment (it may reach a shared phone, and SMS is not a
private channel). Compliance answers follow the CTIA wording: the opt-out confirmation says the
number is unsubscribed, that nothing more will come, and how to resubscribe; the keywords
(START, STOP, HELP) stay in English because they are what the carriers recognise.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from outreach.replies.actions import ReplyKind

DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en", "es", "fr", "pt", "ro", "de", "it")
# The only values a reply text may be formatted with: none of them is the patient's.
REPLY_FIELDS = frozenset({"clinic_name", "clinic_phone", "booking_link"})
# HELP without a clinic phone number on file: the patient is invited to write instead.
HELP_WITHOUT_PHONE = "help_without_phone"

# Stands in for the clinic's name when the organisation has none on file.
GENERIC_CLINIC_NAME: Mapping[str, str] = {
    "en": "Your clinic",
    "es": "Su clínica",
    "fr": "Votre cabinet",
    "pt": "A sua clínica",
    "ro": "Clinica dumneavoastră",
    "de": "Ihre Praxis",
    "it": "Il suo studio medico",
}

_TEXTS: Mapping[str, Mapping[str, str]] = {
    ReplyKind.THANK_YOU: {
        "en": "{clinic_name}: Thank you for confirming. We look forward to seeing you.",
        "es": "{clinic_name}: Gracias por confirmar. Le esperamos.",
        "fr": "{clinic_name} : Merci pour votre confirmation. À bientôt.",
        "pt": "{clinic_name}: Obrigado pela confirmação. Até breve.",
        "ro": "{clinic_name}: Vă mulțumim pentru confirmare. Vă așteptăm.",
        "de": "{clinic_name}: Vielen Dank für Ihre Bestätigung. Wir freuen uns auf Sie.",
        "it": "{clinic_name}: Grazie per la conferma. La aspettiamo.",
    },
    ReplyKind.BOOKING_LINK: {
        "en": "{clinic_name}: No problem. Choose a new time here: {booking_link}",
        "es": "{clinic_name}: Sin problema. Elija una nueva hora aquí: {booking_link}",
        "fr": "{clinic_name} : Pas de souci. Choisissez un nouvel horaire ici : {booking_link}",
        "pt": "{clinic_name}: Sem problema. Escolha um novo horário aqui: {booking_link}",
        "ro": "{clinic_name}: Nicio problemă. Alegeți o nouă oră aici: {booking_link}",
        "de": "{clinic_name}: Kein Problem. Wählen Sie hier einen neuen Termin: {booking_link}",
        "it": "{clinic_name}: Nessun problema. Scelga un nuovo orario qui: {booking_link}",
    },
    ReplyKind.CANCEL_ACKNOWLEDGEMENT: {
        "en": "{clinic_name}: We received your cancellation request. Our team will confirm "
        "it shortly.",
        "es": "{clinic_name}: Hemos recibido su solicitud de cancelación. Nuestro equipo la "
        "confirmará en breve.",
        "fr": "{clinic_name} : Nous avons bien reçu votre demande d'annulation. Notre équipe "
        "vous la confirmera sous peu.",
        "pt": "{clinic_name}: Recebemos o seu pedido de cancelamento. A nossa equipa irá "
        "confirmá-lo em breve.",
        "ro": "{clinic_name}: Am primit cererea dumneavoastră de anulare. Echipa noastră o va "
        "confirma în curând.",
        "de": "{clinic_name}: Wir haben Ihre Absage erhalten. Unser Team bestätigt sie in Kürze.",
        "it": "{clinic_name}: Abbiamo ricevuto la sua richiesta di cancellazione. Il nostro team "
        "la confermerà a breve.",
    },
    ReplyKind.OPT_OUT_CONFIRMATION: {
        "en": "{clinic_name}: You are unsubscribed and will receive no more messages. "
        "Reply START to resubscribe.",
        "es": "{clinic_name}: Se ha dado de baja y no recibirá más mensajes. "
        "Responda START para volver a suscribirse.",
        "fr": "{clinic_name} : Vous êtes désinscrit et ne recevrez plus de messages. "
        "Répondez START pour vous réinscrire.",
        "pt": "{clinic_name}: A sua subscrição foi cancelada e não receberá mais mensagens. "
        "Responda START para voltar a subscrever.",
        "ro": "{clinic_name}: V-ați dezabonat și nu veți mai primi mesaje. "
        "Răspundeți START pentru a vă reabona.",
        "de": "{clinic_name}: Sie sind abgemeldet und erhalten keine weiteren Nachrichten. "
        "Antworten Sie START, um sich wieder anzumelden.",
        "it": "{clinic_name}: Disiscrizione completata, non riceverà altri messaggi. "
        "Risponda START per iscriversi di nuovo.",
    },
    ReplyKind.OPT_IN_CONFIRMATION: {
        "en": "{clinic_name}: You are resubscribed and will receive messages again. "
        "Msg&data rates may apply. Reply HELP for help, STOP to unsubscribe.",
        "es": "{clinic_name}: Se ha vuelto a suscribir y recibirá mensajes de nuevo. Pueden "
        "aplicarse tarifas de mensajes y datos. Responda HELP para ayuda, STOP para darse de baja.",
        "fr": "{clinic_name} : Vous êtes réinscrit et recevrez à nouveau nos messages. Des frais "
        "de messagerie peuvent s'appliquer. Répondez HELP pour de l'aide, STOP pour vous "
        "désinscrire.",
        "pt": "{clinic_name}: Voltou a subscrever e receberá mensagens novamente. Podem "
        "aplicar-se tarifas de mensagens e dados. Responda HELP para ajuda, STOP para cancelar.",
        "ro": "{clinic_name}: V-ați reabonat și veți primi din nou mesaje. Se pot aplica tarife "
        "pentru mesaje și date. Răspundeți HELP pentru ajutor, STOP pentru dezabonare.",
        "de": "{clinic_name}: Sie sind wieder angemeldet und erhalten wieder Nachrichten. Es "
        "können Gebühren für Nachrichten und Daten anfallen. Antworten Sie HELP für Hilfe, "
        "STOP zum Abmelden.",
        "it": "{clinic_name}: Iscrizione riattivata, riceverà di nuovo i messaggi. Potrebbero "
        "applicarsi costi per messaggi e dati. Risponda HELP per assistenza, STOP per "
        "disiscriversi.",
    },
    ReplyKind.HELP: {
        "en": "{clinic_name}: For help call {clinic_phone}. Reply STOP to unsubscribe. "
        "Msg&data rates may apply.",
        "es": "{clinic_name}: Para ayuda llame al {clinic_phone}. Responda STOP para darse "
        "de baja.",
        "fr": "{clinic_name} : Pour obtenir de l'aide, appelez le {clinic_phone}. Répondez STOP "
        "pour vous désinscrire.",
        "pt": "{clinic_name}: Para ajuda ligue para {clinic_phone}. Responda STOP para cancelar "
        "a subscrição.",
        "ro": "{clinic_name}: Pentru ajutor sunați la {clinic_phone}. Răspundeți STOP pentru "
        "dezabonare.",
        "de": "{clinic_name}: Hilfe erhalten Sie unter {clinic_phone}. Antworten Sie STOP, um "
        "sich abzumelden.",
        "it": "{clinic_name}: Per assistenza chiami il {clinic_phone}. Risponda STOP per "
        "disiscriversi.",
    },
    HELP_WITHOUT_PHONE: {
        "en": "{clinic_name}: Write your question here and our team will get back to you. "
        "Reply STOP to unsubscribe.",
        "es": "{clinic_name}: Escriba su pregunta aquí y nuestro equipo le responderá. "
        "Responda STOP para darse de baja.",
        "fr": "{clinic_name} : Écrivez votre question ici et notre équipe vous répondra. "
        "Répondez STOP pour vous désinscrire.",
        "pt": "{clinic_name}: Escreva a sua pergunta aqui e a nossa equipa responderá. "
        "Responda STOP para cancelar a subscrição.",
        "ro": "{clinic_name}: Scrieți întrebarea aici și echipa noastră vă va răspunde. "
        "Răspundeți STOP pentru dezabonare.",
        "de": "{clinic_name}: Schreiben Sie uns Ihre Frage hier, unser Team meldet sich. "
        "Antworten Sie STOP, um sich abzumelden.",
        "it": "{clinic_name}: Scriva qui la sua domanda e il nostro team le risponderà. "
        "Risponda STOP per disiscriversi.",
    },
}


class MissingReplyValue(ValueError):
    """A reply text needs a value the caller did not give (a booking link for BOOKING_LINK)."""


def reply_language(*candidates: str | None) -> str:
    """The first candidate we have texts for ("es-MX" counts as "es"), else English."""
    for candidate in candidates:
        if not candidate:
            continue
        primary = candidate.strip().replace("_", "-").split("-")[0].casefold()
        if primary in SUPPORTED_LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def reply_template(kind: ReplyKind | str, language: str | None) -> str:
    """The unformatted text of ``kind`` in ``language`` (English when it has no translation)."""
    texts = _TEXTS[kind]
    return texts.get(reply_language(language), texts[DEFAULT_LANGUAGE])


def render_reply(
    kind: ReplyKind,
    language: str | None,
    *,
    clinic_name: str | None,
    clinic_phone: str | None = None,
    booking_link: str | None = None,
) -> str:
    """The answer of ``kind`` in ``language``, formatted with the clinic's details only.

    HELP without a clinic phone becomes an invitation to write; BOOKING_LINK without a link
    raises ``MissingReplyValue`` (the caller always has a default booking URL).
    """
    lang = reply_language(language)
    key: str = kind
    if kind is ReplyKind.HELP and not clinic_phone:
        key = HELP_WITHOUT_PHONE
    if kind is ReplyKind.BOOKING_LINK and not booking_link:
        raise MissingReplyValue("a booking link is needed for the booking-link reply")
    values = {
        "clinic_name": (clinic_name or "").strip() or GENERIC_CLINIC_NAME[lang],
        "clinic_phone": clinic_phone or "",
        "booking_link": booking_link or "",
    }
    # Values are inserted once; braces inside a clinic's name are never formatted again.
    return reply_template(key, lang).format(**values)


def template_fields(template: str) -> set[str]:
    """The names a text formats with (a test checks they stay within ``REPLY_FIELDS``)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def all_templates() -> dict[tuple[str, str], str]:
    """Every (kind, language) text, for tests and reviews."""
    return {
        (str(kind), language): text
        for kind, texts in _TEXTS.items()
        for language, text in texts.items()
    }
