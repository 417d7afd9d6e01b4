"""The opt-out line every marketing SMS carries ("Reply STOP to opt out"), in the message's
language.

Carriers (CTIA) expect marketing texts to say how to stop them. A template that already names
the STOP keyword keeps its own wording; any other marketing SMS gets the line appended before
its segments are counted, so the limit holds with it. The keyword stays in English in every
language: it is what carriers and the reply parser recognise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

OPT_OUT_LINES: Mapping[str, str] = {
    "en": "Reply STOP to opt out.",
    "es": "Responda STOP para darse de baja.",
    "fr": "Répondez STOP pour vous désabonner.",
    "pt": "Responda STOP para cancelar.",
    "ro": "Răspundeți STOP pentru dezabonare.",
    "de": "Antworten Sie STOP zum Abmelden.",
    "it": "Risponda STOP per annullare l'iscrizione.",
}
_DEFAULT_LANGUAGE = "en"
_NAMES_STOP = re.compile(r"\bSTOP\b")


def opt_out_line(language: str | None) -> str:
    """The line in ``language`` (a BCP 47 tag; its primary subtag decides), English otherwise."""
    primary = (language or _DEFAULT_LANGUAGE).replace("_", "-").split("-")[0].lower()
    return OPT_OUT_LINES.get(primary, OPT_OUT_LINES[_DEFAULT_LANGUAGE])


def with_opt_out_line(body: str, language: str | None) -> str:
    """``body`` with the opt-out line appended, unless it already names the STOP keyword."""
    if _NAMES_STOP.search(body):
        return body
    line = opt_out_line(language)
    return f"{body} {line}" if body else line
