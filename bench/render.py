"""Renders per second of one compiled, cached SMS template on one core.

Sets up its own template and a pool of patient contexts (no database, no seeds), warms the
caches, then renders for a few seconds. The last line is the figure: ``render: <N> renders/s``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from outreach.domain import Channel, Purpose
from outreach.templating import TemplateRecord, TemplateRenderer

DURATION_SECONDS = 3.0
BATCH = 1000

TEMPLATE = TemplateRecord(
    id="bench-reminder-sms",
    purpose=Purpose.APPT_REMINDER,
    channel=Channel.SMS,
    language="es",
    body=(
        "{{ clinic_name }}: Hola {{ first_name }}, su cita es a las {{ appointment_time }} "
        "del {{ appointment_date|format_date('compact') }}. Responda SI para confirmar. "
        "STOP para baja."
    ),
    declared_variables=("clinic_name", "first_name", "appointment_time", "appointment_date"),
)


def contexts(count: int, start: datetime) -> list[dict[str, object]]:
    """Patients in half-hour slots over a week or so; PHI present, as the pipeline has it."""
    names = ["Ana", "Luis", "María", "Sofía", "Jorge", "Lucía", "Pedro", "Elena"]
    return [
        {
            "first_name": names[i % len(names)],
            "clinic_name": "Clínica del Sol",
            "appointment_date": start + timedelta(minutes=30 * (i % 400)),
            "appointment_time": start + timedelta(minutes=30 * (i % 400)),
            "diagnosis": "withheld by the guard",
        }
        for i in range(count)
    ]


def main() -> None:
    renderer = TemplateRenderer()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    pool = contexts(BATCH, now + timedelta(days=1))
    for context in pool:  # warm: compile, analyse, format caches
        renderer.render(TEMPLATE, context, now=now, timezone="America/Mexico_City", locale="es-MX")
    renders = 0
    # CPU time of this process: the figure for one core, even on a machine busy with other work.
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    while time.process_time() - started_cpu < DURATION_SECONDS:
        for context in pool:
            renderer.render(
                TEMPLATE, context, now=now, timezone="America/Mexico_City", locale="es-MX"
            )
        renders += len(pool)
    cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started_wall
    print(f"rendered {renders} messages in {cpu:.2f} s of CPU ({wall:.2f} s wall clock)")
    print(f"render: {int(renders / cpu)} renders/s")


if __name__ == "__main__":
    main()
