"""Embedding risk-triggers in a case-management system: a runnable example.

It builds a chronology from records a system already holds, replays it against
the shipped rules, stores the result in an in-memory SQLite database and prints
the alerts. Only names exported from `triggers` are used.

Run it with:  python examples/embed.py
"""

from __future__ import annotations

from triggers import ChronologyError, Engine, Store, chronology_from_data, load_rules

RECORDS = [
    {"at": "2023-01-09", "type": "conviction", "offence": "indecent images", "category": "sexual"},
    {"at": "2023-01-09", "type": "registration_started", "years": 10},
    {"at": "2023-07-03", "type": "new_relationship", "partner_has_children": True},
    {"at": "2024-02-12", "type": "new_pregnancy", "household_member": "partner"},
]


def main() -> int:
    """Replay one case built in code and print its alerts; returns the number raised."""
    engine = Engine(load_rules())
    chronology = chronology_from_data({"case": "embedded-1", "events": RECORDS}, "records")
    result = engine.replay(chronology)
    with Store("sqlite://") as store:
        summary = store.save(result)
        stored = store.alerts(chronology.case)
    for item in stored:
        alert = item.alert
        due = f"{item.due_by:%Y-%m-%d}"
        print(f"{alert.at:%Y-%m-%d}  {alert.action:<28} {item.status:<6} due {due}")
    print(f"{summary.new_alerts} alert(s) stored for case {summary.case}")

    # Data from outside is checked: every problem is reported, with where it is.
    try:
        chronology_from_data(
            {"case": "broken", "events": [{"at": "soon", "type": "arrest"}]}, "inline.json"
        )
    except ChronologyError as error:
        for problem in error.problems:
            print(f"rejected: {problem}")
    return len(stored)


if __name__ == "__main__":
    main()
