"""Use case "audit send times": did any message go out at an hour the rules forbid?

Every job sent since a moment, checked against the patient's zone and quiet hours as they stand
and the legal floor (``delivery.send_window.send_time_breaches``): what the demo's summary shows,
and what an operator can run over a day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from outreach.delivery.send_window import send_time_breaches
from outreach.preferences import address_for, resolve_patients
from outreach.sql.store import Store

_CHUNK = 2000  # patients resolved per query round


@dataclass
class SendTimeAudit:
    checked: int = 0
    breaches: Counter[str] = field(default_factory=Counter)  # by rule
    job_ids: dict[str, list[int]] = field(default_factory=dict)  # a few examples per rule


def audit_send_times(store: Store, since: datetime) -> SendTimeAudit:
    audit = SendTimeAudit()
    with store.reading() as repos:
        sent = repos.jobs.sent_since(since)
        patient_ids = sorted({record.patient_id for record in sent})
        patients = {}
        for start in range(0, len(patient_ids), _CHUNK):
            chunk = patient_ids[start : start + _CHUNK]
            patients.update(resolve_patients(repos.patients.decision_layers(chunk)))
    for record in sent:
        patient = patients.get(record.patient_id)
        if patient is None:
            continue
        audit.checked += 1
        address = address_for(record.channel, patient.prefs)
        for breach in send_time_breaches(
            record.sent_at, record.purpose, record.deadline, record.channel, address, patient.prefs
        ):
            audit.breaches[breach] += 1
            examples = audit.job_ids.setdefault(breach, [])
            if len(examples) < 5:
                examples.append(record.job_id)
    return audit
