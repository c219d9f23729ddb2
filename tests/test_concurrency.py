"""Stores used at once by several processes (or threads): what PostgreSQL once lost.

PostgreSQL locks one case, not the whole store, while it is written; SQLite locks
the whole store. So on PostgreSQL two writers can meet on what cases share: the
tables, made when a store is first opened, and the rule set each case records.
Threads released together make them meet every time.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from tests.conftest import chronology
from triggers import Engine, Store

EVENTS = 20
#: A thread that has not finished by then is taken to be stuck (a deadlock).
TIMEOUT = 90
START = datetime(2010, 1, 1, tzinfo=UTC)
#: Event types from the catalogue, with the fields that make the default rules fire.
KINDS: list[tuple[str, dict[str, Sequence[Any]]]] = [
    ("conviction", {"offence": ["x"], "category": ["sexual", "violent", "other"]}),
    ("arrest", {"offence": ["x"], "category": ["sexual", "other"]}),
    ("registration_started", {}),
    ("risk_assessed", {"tool": ["RM2000", "OASys"], "level": ["low", "medium", "high"],
                       "towards": ["children"]}),
    ("mappa_level_set", {"level": [1, 2, 3], "area": ["north", "south"]}),
    ("mappa_review", {"area": ["north", "south"]}),
    ("offender_moved_area", {"from_area": ["north"], "to_area": ["south"]}),
    ("monitoring_software_failure", {}),
    ("community_concern", {"reporter": ["n1", "n2", "n3"]}),
    ("new_relationship", {"partner_has_children": [True, False]}),
    ("new_pregnancy", {}),
    ("child_joined_household", {"child": ["a", "b"]}),
    ("plan_started", {"plan": ["child_in_need", "written_agreement"]}),
    ("plan_ended", {"plan": ["child_in_need"], "contingency": [True, False]}),
    ("child_missing", {"child": ["a", "b"]}),
    ("return_interview", {"child": ["a", "b"]}),
]  # fmt: skip


def case_name(number: int) -> str:
    return f"case-{number:03d}"


def case_events(number: int) -> list[dict[str, Any]]:
    """The events of one case: the same wherever the case is fed."""
    chooser = random.Random(number)
    events = []
    for index in range(EVENTS):
        kind, fields = chooser.choice(KINDS)
        at = START + timedelta(hours=6 * chooser.randrange(3 * 365 * 4))
        events.append(
            {
                "id": f"e{index}",
                "at": at.isoformat(),
                "type": kind,
                **{name: chooser.choice(values) for name, values in fields.items()},
            }
        )
    return events


def at_once(calls: Sequence[Callable[[], object]]) -> None:
    """Run the calls in threads released together; re-raise the first exception."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    if errors:
        raise errors[0]


def test_stores_opened_at_once_on_a_new_database_all_open(store_url: str) -> None:
    # Opening a store makes its tables; on PostgreSQL the openers of a new database
    # used to all make them, and all but one failed ("duplicate key value violates
    # unique constraint pg_type_typname_nsp_index").
    at_once([lambda: Store(store_url).close()] * 4)
    with Store(store_url) as store:
        assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}


def test_cases_stored_at_once_record_their_rule_set_once(store_url: str, engine: Engine) -> None:
    # Each case's transaction records the rule set that evaluated it. PostgreSQL locks
    # cases, not the store, so two cases stored at once used to both insert it, and
    # the second failed ("duplicate key value violates unique constraint rule_sets_pkey").
    results = [
        engine.replay(chronology(case_events(number), case_name(number))) for number in range(4)
    ]
    with Store(store_url) as store:
        at_once([partial(store.save, result) for result in results])
        assert store.counts()["cases"] == 4
        assert store.rule_set(engine.rules.version) == list(
            zip(engine.rules.files, engine.rules.texts, strict=True)
        )
