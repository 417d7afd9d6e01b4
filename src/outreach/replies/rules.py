"""Deterministic reply rules: offered options, emoji and multilingual wording.

These rules run after the compliance layer (which they can never override) and before the
statistical classifier. They encode decisions a clinic would want to be able to read:

* **Offered options.** The outbound templates say "Reply C or 1 to confirm, R or 2 to
  reschedule, X or 3 to cancel"; :data:`DEFAULT_OFFERED_OPTIONS` is that promise. A clinic whose
  messages offer other letters passes its own mapping to the parser.
* **Emoji.** 👍 ✅ 👌 ✔ alone confirm; ❌ 👎 🚫 alone decline (cancel). Mixed emoji decide nothing.
* **"Can't make it".** Saying you cannot come *and* naming or asking for another time is a
  reschedule request ("I can't make it, can we do Tuesday?"); saying you cannot come without
  one is a cancellation ("I can't make it", "no puedo ir"). A bare "No" is a cancellation too,
  since the messages ask "will you come?".
* **Negation.** "Don't cancel" / "no cancelen" / "n'annulez pas" keep the appointment (confirm);
  a negated confirmation ("I won't be there", "not coming") is a cancellation.
* **Start from free text** only on explicit wording ("resume my reminders", "quiero volver a
  recibir mensajes"): re-subscribing someone by guesswork is the one mistake worse than missing
  a confirmation.

Every rule has a language tag where the wording belongs to one language, used to report the
reply's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from outreach.replies.intents import ReplyIntent
from outreach.replies.normalise import NormalisedReply

# What the outbound appointment messages offer. Keys are casefolded single tokens.
DEFAULT_OFFERED_OPTIONS: Mapping[str, ReplyIntent] = MappingProxyType(
    {
        "c": ReplyIntent.CONFIRM,
        "1": ReplyIntent.CONFIRM,
        "r": ReplyIntent.RESCHEDULE,
        "2": ReplyIntent.RESCHEDULE,
        "x": ReplyIntent.CANCEL,
        "3": ReplyIntent.CANCEL,
    }
)

CONFIRM_EMOJI = frozenset({"👍", "✅", "👌", "✔", "☑", "🆗", "🤝", "💯"})
DECLINE_EMOJI = frozenset({"❌", "👎", "🚫", "✖", "❎"})

# Confidence the rules report. Anything at or above the parser's floor (0.8) is final.
WHOLE_MESSAGE = 0.97
EXPLICIT_PHRASE = 0.92
COMBINED_CUES = 0.85
BARE_NO = 0.85
NEGATED_CONFIRM = 0.8


@dataclass(frozen=True, slots=True)
class RuleMatch:
    intent: ReplyIntent
    confidence: float
    rule: str
    language: str | None = None


# Greetings, thanks and politeness that may surround a one-word answer ("ok thanks", "hi, yes").
_FILLER = frozenset(
    word
    for words in (
        "hi hello hey hiya dear thanks thank you thx ty please pls plz sir madam doctor dr",
        "so much very",
        "hola gracias buenas buenos dias tardes por favor senor senora doctora",
        "bonjour bonsoir salut merci beaucoup svp s il vous plait madame monsieur docteur",
        "ola oi obrigado obrigada valeu bom dia boa tarde doutor doutora",
        "buna ziua seara multumesc mersi frumos va rog domnule doamna doctor",
        "hallo guten tag morgen abend danke schon vielen bitte herr frau doktor",
        "ciao salve buongiorno buonasera grazie mille tante per favore dottore dottoressa",
    )
    for word in words.split()
)

# Whole-message answers, after filler words are peeled off ("Yes!", "ok thanks", "sí sí").
_CONFIRM_WHOLE: dict[str | None, str] = {
    None: r"ok|okay|okey|oki|k|kk|confirm|confirmed|perfect|super",
    "en": r"yes|y|ye|yep|yeah|yea|yup|ya|sure|sure thing|alright|all right|fine|great|absolutely"
    r"|definitely|of course|will do|sounds good|aye|confirmed thanks|yes confirmed|yes definitely"
    r"|deal|good|all good|got it|noted|perfect see you",
    "es": r"si|sip|vale|claro|claro que si|confirmo|confirmado|confirmada|de acuerdo|perfecto|listo"
    r"|dale|por supuesto|bueno|ok perfecto|si claro|si confirmo|genial",
    "fr": r"oui|ouais|ouaip|d accord|dac|parfait|entendu|confirme|confirmee|je confirme|bien sur"
    r"|ca marche|tres bien|volontiers|c est bon|c est note|oui bien sur|nickel|impeccable",
    "pt": r"sim|aham|claro|confirmo|confirmado|confirmada|combinado|beleza|certo|perfeito|fechado"
    r"|ta bom|ta|pode ser|com certeza|pode confirmar|ok combinado|blz|certinho",
    "ro": r"da|daa|sigur|confirmat|bine|desigur|in regula|bineinteles|de acord"
    r"|da confirm|da sigur|am inteles|am notat",
    "de": r"ja|jo|jawohl|klar|ja klar|gerne|bestatigt|bestatige|ich bestatige|passt|alles klar"
    r"|genau|sicher|in ordnung|geht in ordnung|prima|einverstanden|jep|jup|ja gerne|okay danke",
    "it": r"si|certo|confermo|confermato|confermata|va bene|d accordo|perfetto|certamente|sicuro"
    r"|ottimo|si certo|benissimo|va benissimo|ricevuto",
}
_NO_WHOLE: dict[str | None, str] = {
    "en": r"no|n|nope|nah|no thanks|no thank you|no sorry|sorry no",
    "es": r"no|no gracias|no lo siento",
    "fr": r"non|non merci|nan",
    "pt": r"nao|nao obrigado|nao obrigada",
    "ro": r"nu|nu multumesc|nu mersi",
    "de": r"nein|nee|ne|nein danke|leider nein",
    "it": r"no|no grazie|purtroppo no",
}
_HELP_WHOLE: dict[str | None, str] = {
    None: r"info|infos|help",
    "en": r"help|help me|help please|information|more info|more information",
    "es": r"ayuda|ayudenme|informacion|mas informacion|info por favor",
    "fr": r"aide|aidez moi|informations|information|plus d informations",
    "pt": r"ajuda|me ajudem|informacao|informacoes|mais informacoes",
    "ro": r"ajutor|ajutati ma|informatii|mai multe informatii",
    "de": r"hilfe|helfen sie mir|informationen|mehr informationen",
    "it": r"aiuto|aiutatemi|informazioni|piu informazioni",
}

_WEEKDAYS = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs"
    r"|fri|sat"
    r"|lunes|martes|miercoles|jueves|viernes|sabado|domingo"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    r"|segunda|terca|quarta|quinta|sexta|sabado|domingo"
    r"|luni|marti|miercuri|joi|vineri|sambata|duminica|lunea|miercurea|joia|vinerea"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lunedi|martedi|mercoledi|giovedi|venerdi|sabato|domenica"
)
# Another time named or asked for. "Today" is absent on purpose: "I can't come today" is about
# the booked appointment, not a new one.
_TIME = re.compile(
    rf"\b(?:{_WEEKDAYS})\b"
    r"|\b(?:tomorrow|next week|next month|this week|weekend|morning|afternoon|evening"
    r"|manana|semana que viene|proxima semana|la tarde|la manana|otro dia"
    r"|demain|semaine prochaine|matin|apres midi|soir|fin de journee"
    r"|amanha|proxima semana|semana que vem|de manha|a tarde|a noite"
    r"|maine|saptamana viitoare|dimineata|dupa amiaza|seara"
    r"|morgen|nachste woche|vormittags?|nachmittags?|abends?|morgens"
    r"|domani|settimana prossima|prossima settimana|mattina|pomeriggio|sera)\b"
    r"|\b\d{1,2}(?: \d{2})? ?(?:am|pm|h|uhr|hs|hrs)\b|\b\d{1,2}(?:st|nd|rd|th)\b"
    r"|\b(?:at|a las|as|alle|la ora|um|ore|vers|a)\s\d{1,2}\b"
    r"|\b(?:el|le|am|pe|al|o dia|dia|el dia) \d{1,2}\b"
    r"|\b(?:later|earlier|mas tarde|mas temprano|plus tard|plus tot|mais tarde|mais cedo"
    r"|mai tarzi\w*|mai devreme|spater\w*|fruher|piu tardi|prima)\b"
)

# "Are you open on Saturday?" names a day and asks, but is a question for the front desk.
_OPENING_HOURS = re.compile(
    r"\b(?:open|opening|offen|abren|abierto|ouverts?|abrem|aberto|deschis\w*|aperti|aperto)\b"
)


# (language, pattern) cue lists over NormalisedReply.text.
def _cue(language: str, *alternatives: str) -> tuple[str, str]:
    """One language's wording for a cue: the alternatives are OR-ed into a single pattern."""
    return language, "|".join(alternatives)


_CUES: dict[str, tuple[tuple[str, str], ...]] = {
    "start": (
        _cue(
            "en",
            r"\bstart (?:again|over|messages|sending|texting|the (?:texts|messages|reminders))\b",
        ),
        _cue(
            "en",
            r"\b(?:restart|resume|resubscribe|re subscribe|subscribe|subscribed)\b",
        ),
        _cue(
            "en",
            r"\bopt (?:me )?(?:back )?in\b",
            r"\bsign me (?:back )?up\b",
            r"\b(?:turn|switch|put) (?:\w+ ){0,3}back on\b",
        ),
        _cue(
            "en",
            (
                r"\b(?:want|like) (?:to (?:receive|get) )?(?:the )?(?:texts|messages|reminders)(?: "
                r"again| back)?\b"
            ),
        ),
        _cue(
            "en",
            (
                r"\b(?:receive|get|send me) (?:the )?(?:texts|messages|reminders|sms)(?: \w+)? "
                r"again\b"
            ),
        ),
        _cue(
            "es",
            r"\b(?:volver a|vuelvan a) (?:recibir|enviar\w*|mandar\w*|escribir\w*)",
        ),
        _cue(
            "es",
            r"\b(?:reactiv\w*|suscri\w*|reanudar)\b",
            r"^alta$",
            r"\b(?:darme|denme|dar) de alta\b",
        ),
        _cue(
            "es",
            r"\b(?:mensajes|recordatorios|avisos)\b.*\b(?:de nuevo|otra vez)\b",
            r"\b(?:de nuevo|otra vez)\b.*\b(?:mensajes|recordatorios|avisos)\b",
        ),
        _cue(
            "es",
            r"\bactiv(?:ar|en) (?:de nuevo|otra vez|mensajes|recordatorios|avisos)\b",
            r"^empezar$",
        ),
        _cue(
            "fr",
            r"\b(?:reactiv\w*|reabonn\w*|reinscri\w*|recommenc\w*|rallumez)\b",
            r"\bremettez (?:moi|les)\b",
        ),
        _cue(
            "fr",
            r"\b(?:de nouveau|a nouveau)\b",
            r"\brenvoyez moi\b",
            r"\breprendre les\b",
            r"\bremettre les\b",
        ),
        _cue(
            "pt",
            r"\b(?:voltar a|voltem a) (?:receber|enviar|mandar|me \w+)\b",
            r"\bvoltem a\b",
        ),
        _cue(
            "pt",
            r"\b(?:reativ\w*|retomar)\b",
            r"\binscr\w* (?:de novo|novamente|outra vez)\b",
            r"\bativ\w* de novo\b",
        ),
        _cue(
            "pt",
            r"\b(?:mensagens|lembretes|avisos)\b.*\b(?:de volta|de novo)\b",
            r"\bativar (?:de novo|mensagens|lembretes)\b",
        ),
        _cue(
            "ro",
            r"\b(?:reactiv\w*|reabon\w*|relua\w*|reincepe\w*)\b",
            r"\babonati ma\b",
            r"\bporniti\b",
        ),
        _cue(
            "ro",
            r"\b(?:din nou|la loc|inapoi)\b.*\b(?:mesaje\w*|mementouri\w*|notificari\w*)\b",
            r"\b(?:mesaje\w*|mementouri\w*|notificari\w*)\b.*\b(?:din nou|inapoi)\b",
        ),
        _cue(
            "ro",
            r"\babon\w* (?:din nou|la loc)\b",
            r"\bactiv(?:are|ati) (?:din nou|mesaje)\b",
        ),
        _cue(
            "ro",
            r"\b(?:trimiteti|scrieti)(?: mi| imi)? (?:\w+ )?din nou\b",
            r"\bdin nou (?:\w+ )?(?:trimiteti|scrieti)\b",
        ),
        _cue(
            "de",
            (
                r"\bwieder (?:anmelden|angemeldet|aktivieren|einschalten|bekommen|erhalten|senden|"
                r"schicken|eintragen|an)\b"
            ),
        ),
        _cue(
            "de",
            r"\bschreiben sie mir (?:\w+ )?wieder\b",
        ),
        _cue(
            "de",
            r"\b(?:erneut anmelden|reaktivier\w*|fortsetzen)\b",
            r"\bmelden sie mich wieder an\b",
        ),
        _cue(
            "de",
            r"\b(?:nachrichten|erinnerungen|sms|benachrichtigungen)\b.*\b(?:wieder|zuruck)\b",
            r"\bwieder\b.*\b(?:nachrichten|erinnerungen|benachrichtigungen)\b",
        ),
        _cue(
            "it",
            r"\b(?:riattiv\w*|reiscri\w*|ricominc\w*|rivoglio|rimandatemi)\b",
        ),
        _cue(
            "it",
            r"\b(?:di nuovo|nuovamente)\b.*\b(?:messaggi|promemoria|sms|avvisi|notifiche)\b",
            r"\b(?:messaggi|promemoria|sms|avvisi|notifiche)\b.*\b(?:di nuovo|nuovamente)\b",
        ),
        _cue(
            "it",
            r"\biscri\w* (?:di nuovo|nuovamente)\b",
            r"\battivare di nuovo\b",
            r"\briprendere i messaggi\b",
        ),
    ),
    "negated_cancel": (
        _cue(
            "en",
            r"\b(?:don t|dont|do not|no need to|not|never) (?:cancel|remove)\b",
        ),
        _cue(
            "es",
            r"\bno (?:la |lo |me )?(?:cancel\w*|anul\w*)\b",
            r"\bno hace falta cancelar\b",
        ),
        _cue(
            "fr",
            r"\bn annulez pas\b",
            r"\bne pas annuler\b",
            r"\b(?:inutile|pas besoin) d annuler\b",
        ),
        _cue(
            "pt",
            r"\bnao (?:cancel\w*|desmarqu\w*)\b",
            r"\bnao precisa (?:cancelar|desmarcar)\b",
        ),
        _cue(
            "ro",
            r"\bnu (?:anulati|anula|stergeti)\b",
            r"\bnu e nevoie sa anulati\b",
        ),
        _cue(
            "de",
            r"\bnicht (?:absagen|stornieren)\b",
            r"\bnicht notig abzusagen\b",
        ),
        _cue(
            "it",
            r"\bnon (?:annull\w*|cancell\w*|disdi\w*)\b",
            r"\bnon serve annullare\b",
        ),
    ),
    "reschedule": (
        _cue(
            "en",
            r"\b(?:reschedul\w*|rebook|re book|rearrange|postpone|instead)\b",
        ),
        _cue(
            "en",
            r"\b(?:move|moved|shift|push|bump) (?:it|me|my|the|this|that|to)\b",
            r"\bpush (?:it )?back\b",
        ),
        _cue(
            "en",
            r"\bchange (?:the|my|it|to|of)\b",
            r"\bswitch to\b",
        ),
        _cue(
            "en",
            (
                r"\b(?:another|different|other|new|later|earlier) (?:day|time|date|slot|week|"
                r"appointment|month|times|days|dates|slots)\b"
            ),
        ),
        _cue(
            "en",
            r"\b(?:any|other) (?:openings|slots|availability|times available)\b",
            r"\bis there a slot\b",
        ),
        _cue(
            "es",
            (
                r"\b(?:reprogram\w*|reagend\w*|posponer|aplazar|adelantar\w*|cambiar\w*|pasar(?:la|"
                r"lo)? a)\b"
            ),
        ),
        _cue(
            "es",
            r"\b(?:otro|otra) (?:dia|horario|hora|fecha|hueco|cita|momento)\b",
            r"\ben vez\b",
            r"\ben lugar de\b",
        ),
        _cue(
            "fr",
            (
                r"\b(?:report(?:er|ez|e)|decal(?:er|ez|e)|deplac(?:er|ez|e)|modifier|avancer|"
                r"repousser|remettre|reprogramm\w*)\b"
            ),
        ),
        _cue(
            "fr",
            r"\bchanger (?:de|le|la|l|mon|ma)\b",
            r"\bautre (?:jour|date|creneau|heure|horaire|moment)\b",
            r"\ba la place\b",
        ),
        _cue(
            "pt",
            r"\b(?:remarc\w*|reagend\w*|adiar|antecipar|mudar|trocar)\b",
        ),
        _cue(
            "pt",
            r"\boutr[oa] (?:horario|dia|data|hora|vaga)\b",
            r"\bem vez\b",
            r"\bno lugar\b",
        ),
        _cue(
            "ro",
            r"\b(?:reprogram\w*|amana\w*|amanam)\b",
            r"\bmut(?:a|am|ati|ati o|i)\b",
            r"\bmut (?:programarea|o)\b",
        ),
        _cue(
            "ro",
            r"\bschimb(?:a|am|ati)?\b",
            r"\balt(?:a|e|ceva) (?:ora|zi|data|programare|ore)\b",
            r"\bin loc\b",
        ),
        _cue(
            "de",
            (
                r"\b(?:verschieb\w*|umbuch\w*|verleg\w*|vorziehen|stattdessen|ersatztermin|"
                r"wechseln)\b"
            ),
        ),
        _cue(
            "de",
            r"\bandern\b",
            r"\bander(?:e|en|er|es) (?:termin|tag|zeit|uhrzeit|zeiten)\b",
            r"\bneuen termin\b",
            r"\bspateren termin\b",
            r"\bandere zeiten\b",
            r"\bauf \w+ legen\b",
        ),
        _cue(
            "it",
            r"\b(?:spost\w*|riprogramm\w*|rimand(?:are|iamo|ate)|anticip(?:are|iamo))\b",
        ),
        _cue(
            "it",
            r"\bcambi(?:are|ate|arlo|amo)\b",
            r"\baltr[oaie] (?:orari|orario|giorno|data|appuntamento|giorni|date)\b",
            r"\bnuovo appuntamento\b",
            r"\binvece\b",
            r"\bal posto\b",
        ),
    ),
    "request": (
        _cue(
            "en",
            r"\b(?:can|could) (?:we|i|you)\b",
            r"\bis (?:it|that) possible\b",
            r"\bhow about\b",
            r"\bwhat about\b",
        ),
        _cue(
            "en",
            r"\bi d like\b",
            r"\bi would like\b",
            r"\bwould \w+ work\b",
            r"\bdo you have\b",
            r"\bany chance\b",
            r"\bis there (?:anything|something|a slot)\b",
            r"\bprefer\b",
            r"\bmaybe\b",
        ),
        _cue(
            "es",
            (
                r"\b(?:se puede|podemos|podria ser|puede ser|seria posible|habria|hay algo|tienen|"
                r"me dan|mejor|prefiero|puedo ir|quisiera|queria|me gustaria)\b"
            ),
        ),
        _cue(
            "fr",
            (
                r"\b(?:possible|peut on|on peut|peut il|je peux|puis je|pouvez vous|pourriez vous|"
                r"auriez vous|avez vous|je prefere\w*|plutot|je voudrais|j aimerais)\b"
            ),
        ),
        _cue(
            "pt",
            (
                r"\b(?:seria possivel|pode ser|podemos|podem|tem|da para|prefiro|posso ir"
                r"|voces tem|"
                r"queria|gostaria)\b"
            ),
        ),
        _cue(
            "ro",
            r"\b(?:se poate|ar fi posibil|putem|aveti|prefer|(?<!nu )pot veni|as vrea|as dori)\b",
        ),
        _cue(
            "de",
            (
                r"\b(?:ware|geht es|geht das|ginge|hatten sie|haben sie|gibt es|konnen wir"
                r"|kann ich|"
                r"lieber|hatte gern|mochte)\b"
            ),
        ),
        _cue(
            "it",
            (
                r"\b(?:sarebbe possibile|si puo|possiamo|avete|c e qualcosa|preferisco"
                r"|posso venire|"
                r"potete|vorrei)\b"
            ),
        ),
    ),
    "cancel": (
        _cue(
            "en",
            (
                r"\bcancel(?:l?ed|l?ing)?\b(?! (?:\w+ )?(?:texts?|messages?|subscription|"
                r"reminders?))"
            ),
        ),
        _cue(
            "en",
            (
                r"\b(?:can t|cant|cannot|can not|couldn t|won t|wont|will not|not able to"
                r"|unable to|"
                r"not going to|not gonna|no longer) (?:\w+ )?(?:make it|come|attend|go|be there|be "
                r"coming|be attending|be able)\b"
            ),
        ),
        _cue(
            "en",
            r"\b(?:not|no longer) (?:coming|going|attending|make it|able to)\b",
            r"\bcan no longer make it\b",
        ),
        _cue(
            "en",
            r"\b(?:no longer need|don t need|do not need) (?:the|my|this|that|it)\b",
            r"\bcount me out\b",
            r"\bskip it\b",
        ),
        _cue(
            "en",
            r"\bscratch that\b",
            r"\bremove (?:the|my) (?:booking|appointment|appt)\b",
            r"\bwe cannot come\b",
        ),
        _cue(
            "es",
            (
                r"\bno (?:puedo|podre|podemos|podremos|voy a poder|vamos a poder|llego|llegare)(?: "
                r"\w+)? (?:ir|asistir|acudir|llegar)\b"
            ),
        ),
        _cue(
            "es",
            r"\bno (?:voy|vamos|ire|iremos|asistire|asistiremos|podre|podremos|puedo)\b",
        ),
        _cue(
            "es",
            r"\b(?:cancel(?:ar|en|o|a|enla|ela|arla)|anul(?:ar|en|o|enla|arla|a))\b",
            r"\bno cuenten conmigo\b",
        ),
        _cue(
            "es",
            r"\bimposible (?:asistir|ir)\b",
            r"\bya no necesito\b",
            r"\bme es imposible\b",
        ),
        _cue(
            "fr",
            (
                r"\bne (?:peux|pourrai|pourrons|pouvons|peut) pas (?:venir|etre|y aller|me "
                r"deplacer)\b"
            ),
        ),
        _cue(
            "fr",
            r"\bne (?:viendrai|viendrons|viens|viendra|serai|serons|pourrai|pourrons) pas\b",
        ),
        _cue(
            "fr",
            r"\bannul\w*\b",
            r"\bimpossible de venir\b",
            r"\bne comptez pas sur moi\b",
            r"\bje renonce\b",
        ),
        _cue(
            "fr",
            r"\bsupprim\w* (?:mon|le) (?:rendez vous|rdv)\b",
            r"\b(?:pas|plus) besoin du (?:rendez vous|rdv)\b",
        ),
        _cue(
            "pt",
            (
                r"\bnao (?:posso|poderei|podemos|poderemos|vamos poder|vou poder|consigo|vou "
                r"conseguir)(?: \w+)?(?: ir| comparecer)?\b"
            ),
        ),
        _cue(
            "pt",
            r"\bnao (?:vou|vamos|irei|iremos)\b",
            r"\b(?:cancel(?:ar|em|a|o)|desmarc\w*)\b",
        ),
        _cue(
            "pt",
            r"\bnao contem comigo\b",
            r"\bimpossivel comparecer\b",
            r"\bnao preciso mais\b",
            r"\bvou faltar\b",
        ),
        _cue(
            "ro",
            (
                r"\bnu (?:pot|voi putea|putem|vom putea|reusesc"
                r"|o sa pot)(?: sa)?(?: \w+)?(?: veni| "
                r"ajunge)?\b"
            ),
        ),
        _cue(
            "ro",
            r"\bnu (?:vin|venim|mai vin|o sa vin)\b",
            r"\banul\w*\b",
            r"\bnu contati pe mine\b",
            r"\brenunt\b",
        ),
        _cue(
            "ro",
            r"\bimposibil sa vin\b",
            r"\bnu mai am nevoie\b",
            r"\bstergeti programarea\b",
        ),
        _cue(
            "de",
            r"\b(?:kann|konnen|werde|werden) (?:leider )?nicht (?:kommen|da sein)\b",
            r"\bkann nicht\b",
        ),
        _cue(
            "de",
            r"\b(?:komme|kommen) (?:doch |leider )?nicht\b",
            r"\bsagen sie .*\bab\b",
            r"\b(?:absagen|abzusagen|storniere\w*|stornieren)\b",
        ),
        _cue(
            "de",
            r"\bschaffe es nicht\b",
            r"\bschaffe es heute nicht\b",
            r"\bschaffe ich es nicht\b",
            r"\brechnen sie nicht mit mir\b",
        ),
        _cue(
            "de",
            r"\bverzichte\b",
            r"\bbrauche\w* den termin nicht mehr\b",
            r"\bloschen sie \w* ?meinen termin\b",
            r"\bunmoglich zu kommen\b",
        ),
        _cue(
            "it",
            r"\bnon (?:posso|potro|possiamo|potremo|riesco|riusciamo|ce la faccio)\b",
        ),
        _cue(
            "it",
            r"\bnon (?:vengo|veniamo|ci saro|verro|ci saremo)\b",
            r"\bannull\w*\b",
            r"\bdisd\w*\b",
        ),
        _cue(
            "it",
            r"\bcancellate (?:la|il|l)\b",
            r"\bnon contate su di me\b",
            r"\brinuncio\b",
            r"\bimpossibile venire\b",
            r"\bnon ho piu bisogno\b",
        ),
    ),
    "confirm": (
        _cue(
            "en",
            (
                r"\b(?:i ll|ill|i will|we ll|we will|will) (?:\w+ )?(?:be there|be in|make it|come|"
                r"attend|be present)\b"
            ),
        ),
        _cue(
            "en",
            r"\bsee you\b",
            r"\b(?:i|we) can (?:come|make it|attend|be there)\b",
            r"\b(?:i m|i am|we re|we are|still) coming\b",
            r"\bcount me in\b",
            r"\bconfirm(?:ed|ing)?\b",
        ),
        _cue(
            "en",
            r"\b(?:works|that works|fine) (?:for me|for us)\b",
            r"\bsounds good\b",
            r"\bon my way\b",
            r"\bbe there\b",
        ),
        _cue(
            "en",
            r"\bkeeping the appointment\b",
            r"\b(?:will|ll) be (?:there|present)\b",
            r"\battending\b",
            r"\bthat time is fine\b",
            r"\b(?:is|are) fine\b",
        ),
        _cue(
            "es",
            r"\b(?:alli|ahi) (?:estare|estaremos|nos vemos)\b",
            r"\bestare (?:alli|ahi|puntual|presente)\b",
        ),
        _cue(
            "es",
            r"\bconfirm(?:o|ado|ada|amos)\b",
            r"\bnos vemos\b",
            r"\bsi voy\b",
            r"\bvoy a ir\b",
            r"\basistire\b",
        ),
        _cue(
            "es",
            r"\bcuenten con(?:migo| mi)\b",
            r"\bme viene bien\b",
            r"\bvoy seguro\b",
            r"\bsi (?:ire|asistire)\b",
            r"\bclaro (?:que si )?ire\b",
        ),
        _cue(
            "fr",
            r"\bje serai (?:la|present\w*|a l heure|au rendez vous|bien present\w*)\b",
            r"\bj y serai\b",
        ),
        _cue(
            "fr",
            r"\bje confirme\b",
            r"\bconfirmee?\b",
            r"\bje (?:viendrai|viens)\b",
            r"\bnous serons la\b",
            r"\bj y vais\b",
        ),
        _cue(
            "fr",
            r"\ba (?:demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|tout a l heure|bientot)\b",
            r"\bc est (?:bon|note|parfait)\b",
            r"\bca marche\b",
        ),
        _cue(
            "pt",
            r"\bestar(?:ei|emos) (?:la|ai|presente)\b",
            r"\bestarei la\b",
            r"\bconfirm(?:o|ado|ada|amos)\b",
        ),
        _cue(
            "pt",
            r"\bate (?:amanha|segunda|terca|quarta|quinta|sexta|sabado|la|logo)\b",
            r"\b(?:vou sim|eu vou|sim vou)\b",
        ),
        _cue(
            "pt",
            r"\bcontar comigo\b",
            r"\bcomparecer(?:ei)?\b",
            r"\bvou estar (?:ai|la)\b",
            r"\bchego no horario\b",
            r"\bvou com certeza\b",
        ),
        _cue(
            "fr",
            r"\bser(?:a|ai|ons|ont) present\w*\b",
        ),
        _cue(
            "ro",
            r"\b(?:voi|vom) fi (?:acolo|prezent\w*)\b",
            r"\bconfirm(?:at|am)?\b",
            r"\bne vedem\b",
        ),
        _cue(
            "ro",
            r"\bvoi (?:veni|participa)\b",
            r"\bcontati pe mine\b",
            r"\bsunt acolo\b",
            r"\bajung la timp\b",
            r"\b(?:da|bine|sigur) vin\b",
            r"\bvin sigur\b",
            r"\bca vin\b",
        ),
        _cue(
            "ro",
            r"\b(?:da|bine|sigur|regula|ok|multumesc|mersi) vin\b",
            r"\be bine pentru mine\b",
        ),
        _cue(
            "de",
            r"\bich komme\b",
            r"\bkomme ich\b",
            r"\bwerde (?:\w+ )?(?:da sein|erscheinen)\b",
            r"\bbin (?:da|dabei)\b",
        ),
        _cue(
            "de",
            r"\bbestatig\w*\b",
            (
                r"\bbis (?:morgen|montag|dienstag|mittwoch|donnerstag|freitag|samstag|dann|spater|"
                r"bald)\b"
            ),
        ),
        _cue(
            "de",
            r"\bwir (?:sind da|kommen)\b",
            r"\bnehme den termin wahr\b",
            r"\bkomme vorbei\b",
            r"\bich bin (?:\w+ ){0,3}da$",
        ),
        _cue(
            "it",
            r"\bci sar(?:o|emo)\b",
            r"\bconferm\w*\b",
            r"\b(?:si|certo|ok) vengo\b",
            r"\bverro\b",
            r"\bvengo di sicuro\b",
        ),
        _cue(
            "it",
            r"\ba (?:domani|lunedi|martedi|mercoledi|giovedi|venerdi|sabato|dopo|presto)\b",
            r"\bsaro (?:presente|li)\b",
        ),
        _cue(
            "it",
            r"\bci sono\b",
            r"\bci vediamo\b",
            r"\bcontate su di me\b",
            r"\barrivo puntuale\b",
            r"\bva (?:bene|benissimo) per me\b",
        ),
    ),
    "help": (
        _cue(
            "en",
            r"\b(?:who|what) (?:is|s) (?:this|that|texting|sending)\b",
            r"\bwhat (?:number|text) is this\b",
            r"\bwho are you\b",
        ),
        _cue(
            "en",
            r"\bwho sent this\b",
            r"\bwhat does this mean\b",
            r"\bhow do i (?:reply|answer|respond|confirm)\b",
        ),
        _cue(
            "en",
            r"\bwhat (?:should|do) i (?:reply|answer|say)\b",
            r"\b(?:need|want) help\b",
            r"\bhelp me\b",
            r"\bwhat are these\b",
        ),
        _cue(
            "en",
            r"\b(?:need|want) (?:some )?(?:help|assistance)\b",
            r"\bwhat this is\b",
            r"\bexplain\b",
        ),
        _cue(
            "en",
            r"\bdon t understand (?:this|the) (?:message|text)\b",
            r"\bwhat s this about\b",
            r"\bhow does this work\b",
        ),
        _cue(
            "es",
            r"\bque es (?:esto|este mensaje)\b",
            r"\bquien (?:es|me escribe|me manda)\b",
            r"\bde quien es\b",
            r"\bnecesito ayuda\b",
        ),
        _cue(
            "es",
            r"\bcomo (?:respondo|contesto|confirmo|funciona)\b",
            r"\bque (?:significa|tengo que contestar|debo responder)\b",
            r"\bno entiendo\b",
            r"\bde que se trata\b",
        ),
        _cue(
            "es",
            r"\bexpli(?:quen|car|que|ca)\b",
            r"\bno se que es\b",
        ),
        _cue(
            "fr",
            r"\bc est (?:quoi|qui)\b",
            r"\bqui (?:est ce|m ecrit|m envoie)\b",
            r"\bbesoin d aide\b",
            r"\bde l aide\b",
            r"\bque veut dire\b",
        ),
        _cue(
            "fr",
            r"\bcomment (?:repondre|je confirme|ca marche)\b",
            r"\bje ne comprends pas\b",
            r"\bde quoi s agit il\b",
            r"\bque dois je repondre\b",
        ),
        _cue(
            "fr",
            r"\bexpliquer\b",
            r"\bce que c est\b",
        ),
        _cue(
            "pt",
            r"\bo que (?:e isso|significa|devo responder|tenho que responder)\b",
            r"\bquem (?:e|esta me|me mandou)\b",
            r"\bde quem e\b",
        ),
        _cue(
            "pt",
            r"\bpreciso de ajuda\b",
            r"\bcomo (?:respondo|eu confirmo|funciona)\b",
            r"\bnao (?:entendi|entendo)\b",
            r"\bdo que se trata\b",
            r"\bque mensagem e essa\b",
        ),
        _cue(
            "pt",
            r"\bexplicar\b",
            r"\bnao sei o que e\b",
        ),
        _cue(
            "ro",
            r"\bce (?:este asta|e asta|inseamna|mesaj e|trebuie sa raspund)\b",
            r"\bcine (?:este|imi)\b",
            r"\bal cui\b",
        ),
        _cue(
            "ro",
            r"\bnevoie de ajutor\b",
            r"\bcum (?:raspund|confirm|functioneaza)\b",
            r"\bnu inteleg\b",
            r"\bdespre ce e vorba\b",
            r"\bce ar trebui sa raspund\b",
        ),
        _cue(
            "ro",
            r"\bexplica\b",
            r"\bnu stiu ce e\b",
        ),
        _cue(
            "de",
            r"\b(?:was|wer) ist das\b",
            r"\bwer (?:schreibt|schickt) mir\b",
            r"\bwessen nummer\b",
            r"\bbrauche hilfe\b",
        ),
        _cue(
            "de",
            r"\bwas bedeutet\b",
            r"\bwie (?:antworte|bestatige) ich\b",
            r"\bwie funktioniert\b",
            r"\bverstehe (?:die nachricht )?nicht\b",
            r"\bworum geht es\b",
            r"\bwas (?:soll|muss) ich antworten\b",
        ),
        _cue(
            "de",
            r"\berklaren\b",
            r"\bwas das ist\b",
            r"\bwer ist da\b",
        ),
        _cue(
            "it",
            r"\bcos e\b",
            r"\bchi (?:e|mi scrive|mi manda)\b",
            r"\bdi chi e\b",
            r"\bbisogno di aiuto\b",
            r"\bcosa significa\b",
        ),
        _cue(
            "it",
            r"\bcome (?:rispondo|confermo|funziona)\b",
            r"\bnon capisco\b",
            r"\bdi cosa si tratta\b",
            r"\bcosa (?:devo|dovrei) rispondere\b",
            r"\bche messaggio e\b",
        ),
        _cue(
            "it",
            r"\bspiega(?:te|re)\b",
            r"\bcosa sia\b",
        ),
    ),
}

# "Yes, my son will be there", "Da mulțumesc, vin": a yes that opens a statement confirms.
# French "si" is also "if" ("si vous avez un créneau"), so it only counts before a pause word.
_AFFIRMATIVE_OPENER = re.compile(
    r"^(?:yes|yeah|yep|sim|oui|da|ja|si(?! (?:je|j|vous|tu|on|nous|possible|c|il|elle|ca)\b)) \w"
)

# Apostrophes split words, so "don't" / "won't" / "can't" arrive as "... t".
_NEGATORS = frozenset(
    {"not", "t", "dont", "wont", "cant", "never", "no", "nao", "non", "ne", "pas", "nu", "nicht"}
    | {"kein", "keine"}
)


def _compile_whole(table: dict[str | None, str]) -> tuple[tuple[str | None, re.Pattern[str]], ...]:
    return tuple((language, re.compile(rf"^(?:{words})$")) for language, words in table.items())


_CONFIRM_WHOLE_RE = _compile_whole(_CONFIRM_WHOLE)
_NO_WHOLE_RE = _compile_whole(_NO_WHOLE)
_HELP_WHOLE_RE = _compile_whole(_HELP_WHOLE)
_CUES_RE: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    category: tuple((language, re.compile(pattern)) for language, pattern in patterns)
    for category, patterns in _CUES.items()
}


def _core_words(tokens: tuple[str, ...]) -> str:
    """The message without surrounding filler, repeats collapsed ("yes yes thanks" -> "yes")."""
    words = list(tokens)
    while words and words[0] in _FILLER:
        words.pop(0)
    while words and words[-1] in _FILLER:
        words.pop()
    collapsed: list[str] = []
    for word in words:
        if not collapsed or collapsed[-1] != word:
            collapsed.append(word)
    return " ".join(collapsed)


def _whole(table: tuple[tuple[str | None, re.Pattern[str]], ...], core: str) -> list[str | None]:
    """Languages whose whole-message pattern matches ``core`` (empty when none)."""
    return [language for language, pattern in table if pattern.match(core)]


def _first_cue(category: str, text: str) -> tuple[str, re.Match[str]] | None:
    for language, pattern in _CUES_RE[category]:
        found = pattern.search(text)
        if found:
            return language, found
    return None


def _is_negated(text: str, start: int) -> bool:
    """Whether one of the two words before ``start`` negates what follows."""
    before = text[:start].split()[-2:]
    return any(word in _NEGATORS for word in before)


def _negated_anywhere_before(text: str, start: int) -> bool:
    """Whether any negating word precedes ``start``: re-subscribing needs unhedged wording."""
    return any(word in _NEGATORS for word in text[:start].split())


def _single_language(languages: list[str | None]) -> str | None:
    specific = {language for language in languages if language}
    return specific.pop() if len(specific) == 1 else None


def match_rules(
    reply: NormalisedReply,
    offered_options: Mapping[str, ReplyIntent] = DEFAULT_OFFERED_OPTIONS,
) -> RuleMatch | None:
    """The intent the deterministic rules give ``reply``, or ``None`` when they have no opinion.

    Order of precedence (first that applies wins): offered option, emoji-only reply, explicit
    start wording, reschedule wording, "don't cancel", inability plus another time, cancel
    wording, help wording ("how do I confirm?" asks, it does not confirm), whole-message yes,
    confirm wording, negated confirm, a request naming a time, a yes opening a statement,
    whole-message no, whole-message help.
    """
    core = _core_words(reply.tokens)
    if core in offered_options:
        return RuleMatch(offered_options[core], 0.99, f"option:{core.upper()}")
    if not reply.tokens:
        return _match_emoji(reply.emoji)
    text = reply.text

    start = _first_cue("start", text)
    if start and not _negated_anywhere_before(text, start[1].start()):
        return RuleMatch(ReplyIntent.START, EXPLICIT_PHRASE, f"phrase:{start[0]}:start", start[0])
    reschedule = _first_cue("reschedule", text)
    if reschedule:
        return RuleMatch(
            ReplyIntent.RESCHEDULE,
            EXPLICIT_PHRASE,
            f"phrase:{reschedule[0]}:reschedule",
            reschedule[0],
        )
    keep = _first_cue("negated_cancel", text)
    if keep:
        return RuleMatch(
            ReplyIntent.CONFIRM, EXPLICIT_PHRASE, f"phrase:{keep[0]}:dont_cancel", keep[0]
        )
    has_time = _TIME.search(text) is not None
    cancel = _first_cue("cancel", text)
    if cancel:
        if has_time and (reply.has_question or _first_cue("request", text)):
            return RuleMatch(
                ReplyIntent.RESCHEDULE,
                COMBINED_CUES,
                f"phrase:{cancel[0]}:cannot_but_time",
                cancel[0],
            )
        return RuleMatch(
            ReplyIntent.CANCEL, EXPLICIT_PHRASE, f"phrase:{cancel[0]}:cancel", cancel[0]
        )
    help_cue = _first_cue("help", text)
    if help_cue:
        return RuleMatch(
            ReplyIntent.HELP, EXPLICIT_PHRASE, f"phrase:{help_cue[0]}:help", help_cue[0]
        )

    confirm_whole = _whole(_CONFIRM_WHOLE_RE, core)
    if confirm_whole:
        return RuleMatch(
            ReplyIntent.CONFIRM, WHOLE_MESSAGE, "word:confirm", _single_language(confirm_whole)
        )
    confirm = _first_cue("confirm", text)
    if confirm:
        language, found = confirm
        if _is_negated(text, found.start()):
            return RuleMatch(
                ReplyIntent.CANCEL, NEGATED_CONFIRM, f"phrase:{language}:negated_confirm", language
            )
        return RuleMatch(
            ReplyIntent.CONFIRM, EXPLICIT_PHRASE, f"phrase:{language}:confirm", language
        )
    request = _first_cue("request", text)
    if request and has_time and not _OPENING_HOURS.search(text):
        return RuleMatch(
            ReplyIntent.RESCHEDULE, COMBINED_CUES, f"phrase:{request[0]}:request_time", request[0]
        )
    opener = _AFFIRMATIVE_OPENER.match(core)
    if opener and not reply.has_question:
        return RuleMatch(ReplyIntent.CONFIRM, COMBINED_CUES, "word:yes_and_more")
    no_whole = _whole(_NO_WHOLE_RE, core)
    if no_whole:
        return RuleMatch(ReplyIntent.CANCEL, BARE_NO, "word:no", _single_language(no_whole))

    help_whole = _whole(_HELP_WHOLE_RE, core)
    if help_whole:
        return RuleMatch(ReplyIntent.HELP, WHOLE_MESSAGE, "word:help", _single_language(help_whole))
    return None


def _match_emoji(emoji: tuple[str, ...]) -> RuleMatch | None:
    kinds = {
        "confirm" if e in CONFIRM_EMOJI else "decline" if e in DECLINE_EMOJI else "neutral"
        for e in emoji
    }
    if kinds == {"confirm"}:
        return RuleMatch(ReplyIntent.CONFIRM, 0.95, "emoji")
    if kinds == {"decline"}:
        return RuleMatch(ReplyIntent.CANCEL, 0.9, "emoji")
    return None
