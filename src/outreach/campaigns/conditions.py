"""What a campaign can wait for, or stop at: facts about the patient since they were enrolled.

Each condition is read from what outreach already stores (the database side is in
``sql/campaign_repository.py``):

- ``booked``: an appointment of the patient was booked (or moved) after the enrolment and is
  still on;
- ``confirmed``: the patient confirmed an appointment by reply after the enrolment;
- ``replied_stop``: the patient replied STOP (or another opt-out keyword) after the enrolment;
- ``clicked``: the patient clicked a link in a message of this campaign.

As an exit condition, the first that holds ends the enrolment (queued messages are cancelled and
no further step is planned). As a step's wait-until, the step is sent once the condition holds,
or skipped when its wait times out.
"""

from __future__ import annotations

import enum


class Condition(enum.StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    REPLIED_STOP = "replied_stop"
    CLICKED = "clicked"


# When several exit conditions hold at once, the enrolment records the first of these: an
# opt-out matters most to compliance, a booking is the goal a recall campaign is judged on.
EXIT_PRECEDENCE: tuple[Condition, ...] = (
    Condition.REPLIED_STOP,
    Condition.BOOKED,
    Condition.CONFIRMED,
    Condition.CLICKED,
)
