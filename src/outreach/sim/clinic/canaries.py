"""Canaries: recognisable personal values planted in a synthetic clinic's events, so a run can
prove that none of them reaches a log line, a dead letter or an error answer.

Each patient's names, e-mail address, record number and conditions, each lab test's name and
each medication become a value that cannot occur by chance (``Zqcanary…``, ``CANARY…``); the
phone numbers stay as they are (they must be deliverable) and are canaries too. ``CANARY_REPLY``
is a patient's message body for the simulator to send back.
"""

from __future__ import annotations

import copy
import dataclasses

from outreach.sim.clinic.generator import SyntheticClinic

CANARY_REPLY = "Zqcanarybody please call me about my CANARYDX results"


def plant_canaries(clinic: SyntheticClinic) -> tuple[SyntheticClinic, tuple[str, ...]]:
    """A copy of ``clinic`` with canaries in its events, and every canary planted."""
    events = copy.deepcopy(clinic.events)
    planted: set[str] = {CANARY_REPLY}
    numbers: dict[str, int] = {}
    for event in events:
        data = event.get("data")
        if not isinstance(data, dict):
            continue
        n = numbers.setdefault(str(event.get("patient_id")), len(numbers) + 1)
        if event["type"] == "patient.upserted":
            data["first_name"] = f"Zqcanaryfirst{n}x"
            data["last_name"] = f"Zqcanarylast{n}x"
            data["record_number"] = f"CANARYMRN{n}X"
            if data.get("email"):
                data["email"] = f"zq.canary{n}x@canary-mail.example"
            if isinstance(data.get("attributes"), dict):
                data["attributes"]["conditions"] = [f"CANARYDX{n}X"]
            for value in (data.get("phone"), data.get("whatsapp")):
                if value:
                    planted.add(str(value))
            planted.update(
                value
                for key in ("first_name", "last_name", "record_number", "email")
                if isinstance(value := data.get(key), str)
            )
            planted.add(f"CANARYDX{n}X")
        elif event["type"] == "lab.result_ready":
            data["test_name"] = f"CANARYLAB{n}X"
            planted.add(data["test_name"])
        elif event["type"] == "rx.refill_due":
            data["medication"] = f"CANARYRX{n}X"
            planted.add(data["medication"])
    return dataclasses.replace(clinic, events=events), tuple(sorted(planted))
