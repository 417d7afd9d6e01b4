"""The synthetic clinic: patients across zones, languages, channels and consent states, and a
realistic day of their core events, for the demo, the tests and the benchmarks.

Pure and deterministic: a seeded ``random.Random``, no clock (the day start is an argument),
no I/O. ``event_key``/``event_value`` turn an event into a ``core.events`` record.
"""

from outreach.sim.clinic.canaries import CANARY_REPLY, plant_canaries
from outreach.sim.clinic.generator import SyntheticClinic, expected_counts, generate_clinic
from outreach.sim.clinic.history import visit_history
from outreach.sim.clinic.kafka_records import event_key, event_value
from outreach.sim.clinic.malformed import MALFORMED_KINDS, MALFORMED_SHARE, malformed_events
from outreach.sim.clinic.population import Org, Provider, SyntheticPatient
from outreach.sim.clinic.timeline import EVENT_TYPES
from outreach.sim.clinic.visits import VISIT_OUTCOME_TYPES, visit_outcomes

__all__ = [
    "CANARY_REPLY",
    "EVENT_TYPES",
    "MALFORMED_KINDS",
    "MALFORMED_SHARE",
    "Org",
    "Provider",
    "SyntheticClinic",
    "SyntheticPatient",
    "VISIT_OUTCOME_TYPES",
    "event_key",
    "event_value",
    "expected_counts",
    "generate_clinic",
    "malformed_events",
    "plant_canaries",
    "visit_history",
    "visit_outcomes",
]
