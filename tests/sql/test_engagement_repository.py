"""What the send-time model reads and writes: sent messages with their first engagement, the
patients' attributes, learnt best hours and fatigue scores, and the model registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select
from tests.factories import consenting_prefs_row, insert_rows, job_row, patient_row

from outreach.sql.engagement_repository import SendTimeProfile
from outreach.sql.models import CommInbound, CommStatusEvent, MlModel, OrgCommPrefs
from outreach.sql.store import Store

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["mariadb", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of the test's own: the repository reads every sent message in a window."""
    if request.param == "mariadb":
        yield request.getfixturevalue("isolated_mariadb")
        return
    from outreach.sql.engine import build_engine
    from outreach.sql.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'engagement.sqlite3'}"
    upgrade(url)
    sqlite = build_engine(url)
    yield sqlite
    sqlite.dispose()


def _status(job_id: int, status: str, at: datetime, message: str) -> dict[str, object]:
    return {
        "job_id": job_id,
        "provider": "sendgrid",
        "provider_message_id": message,
        "status": status,
        "occurred_at": at,
        "received_at": at,
        "raw": {},
    }


def test_sent_messages_carry_their_first_open_click_and_reply(engine: Engine) -> None:
    sent = NOW - timedelta(days=3)
    ids = insert_rows(
        engine,
        patients=[patient_row("p1"), patient_row("p2")],
        prefs=[consenting_prefs_row("p1", NOW), consenting_prefs_row("p2", NOW)],
        jobs=[
            job_row("k1", "p1", sent, channel="email", status="clicked", sent_at=sent,
                    send_time_source="exploration", send_time_propensity=0.0077),
            job_row("k2", "p1", sent, status="replied", sent_at=sent,
                    replied_at=sent + timedelta(hours=5)),
            job_row("k3", "p2", sent, status="delivered", sent_at=sent),
            job_row("k4", "p2", sent, status="queued"),  # never sent
            job_row("k5", "p2", sent, status="delivered", sent_at=NOW - timedelta(days=40)),
        ],
    )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            insert(CommStatusEvent.__table__),
            [
                _status(ids[0], "opened", sent + timedelta(minutes=30), "m1"),
                _status(ids[0], "clicked", sent + timedelta(minutes=31), "m1"),
                _status(ids[0], "delivered", sent + timedelta(minutes=1), "m1"),
                _status(ids[2], "delivered", sent + timedelta(minutes=1), "m3"),
            ],
        )

    with Store(engine).reading() as repos:
        frame = repos.engagement.sent_messages(NOW - timedelta(days=30), NOW)

    frame = frame.set_index("job_id").sort_index()
    assert frame.index.tolist() == ids[:3]
    first = frame.loc[ids[0]]
    assert first["opened_at"] == pd.Timestamp(sent + timedelta(minutes=30))
    assert first["clicked_at"] == pd.Timestamp(sent + timedelta(minutes=31))
    assert (first["channel"], first["purpose"], first["send_time_source"]) == (
        "email",
        "appt_reminder",
        "exploration",
    )
    assert first["send_time_propensity"] == pytest.approx(0.0077)
    assert frame.loc[ids[1], "replied_at"] == pd.Timestamp(sent + timedelta(hours=5))
    assert frame.loc[ids[2], ["opened_at", "clicked_at", "replied_at"]].isna().all()
    assert pd.isna(frame.loc[ids[2], "send_time_source"])


def test_patients_come_with_every_level_their_cohort_resolves_from(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(OrgCommPrefs.__table__),
            [{"org_id": "org-a", "name": "A", "timezone": "Europe/Paris", "language": "fr"}],
        )
    insert_rows(
        engine,
        patients=[
            patient_row("p1", org_id="org-a", date_of_birth=date(1950, 2, 3), region="IDF"),
            patient_row(
                "p2", org_id="org-a", date_of_birth=None, region=None
            ),  # no prefs: left out
        ],
        prefs=[consenting_prefs_row("p1", NOW, preferred_channel="whatsapp", language="es")],
    )
    # An inbound message of a patient unknown to outreach changes nothing here.
    with engine.begin() as connection:
        connection.execute(
            insert(CommInbound.__table__),
            [
                {
                    "provider": "twilio",
                    "provider_message_id": "in-1",
                    "channel": "sms",
                    "from_address": "+12125550100",
                    "body": "hi",
                    "received_at": NOW,
                }
            ],
        )

    with Store(engine).reading() as repos:
        patients = repos.engagement.patients()

    assert patients.to_dict("records") == [
        {
            "patient_id": "p1",
            "date_of_birth": date(1950, 2, 3),
            "region": "IDF",
            "patient_timezone": None,
            "provider_timezone": None,
            "org_timezone": "Europe/Paris",
            "patient_language": "es",
            "provider_language": None,
            "org_language": "fr",
            "preferred_channel": "whatsapp",
        }
    ]


def test_profiles_and_models_round_trip(engine: Engine) -> None:
    insert_rows(
        engine,
        patients=[patient_row("p1"), patient_row("p2")],
        prefs=[consenting_prefs_row("p1", NOW), consenting_prefs_row("p2", NOW)],
    )
    store = Store(engine)
    with store.transaction() as repos:
        repos.engagement.record_send_time_profiles(
            [SendTimeProfile("p1", 18, 3, "model", 0.8, 14, 0.25)], NOW
        )
        repos.engagement.record_fatigue_scores({"p2": 0.7}, NOW)
        repos.models.add("best_hour", 1, NOW, {"heldout_policy_value": 0.2}, b"{}")
        repos.models.add("best_hour", 2, NOW, {"heldout_policy_value": 0.3}, b"{}")
        repos.models.activate("best_hour", 1)
        repos.models.activate("best_hour", 2)

    with store.reading() as repos:
        learnt = repos.engagement.send_time_profile("p1")
        scored = repos.engagement.send_time_profile("p2")
        counts = repos.engagement.learnt_best_hours()
        active = repos.models.active("best_hour")
        latest = repos.models.latest_version("best_hour")
        missing = repos.engagement.send_time_profile("nobody")

    assert learnt is not None and scored is not None
    assert (learnt.best_hour, learnt.model_version, learnt.source) == (18, 3, "model")
    assert (learnt.confidence, learnt.interactions, learnt.fatigue_score) == (0.8, 14, 0.25)
    assert learnt.learnt_at == NOW
    assert (scored.best_hour, scored.fatigue_score, scored.fatigue_scored_at) == (None, 0.7, NOW)
    assert counts == {"model": 1}
    assert active is not None and active.version == 2
    with engine.connect() as connection:
        in_use = connection.execute(
            select(MlModel.version).where(MlModel.is_active.is_(True))
        ).scalars()
        assert list(in_use) == [2]  # activating version 2 retired version 1
    assert latest == 2
    assert missing is None
