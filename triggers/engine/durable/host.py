"""The durable_rules host: the only module that calls durable_rules itself.

durable_rules has sharp edges, measured here and in docs/durable-rules.md:

- each `Host()` starts two dispatcher threads that never stop, and rulesets can
  never be unregistered: one long-lived host per process, one registration per
  rule-set version;
- the dispatcher threads would run pending actions on another thread, racing
  the synchronous call that asserted the fact: this host does not start them,
  and every call runs the actions it triggers before it returns;
- an exception inside an action is swallowed into the session state: actions
  here only record what fired, and any failure is raised to the caller;
- a message matching no rule raises `MessageNotHandledException`: that means
  "nothing fired";
- an `$or` fires a rule once for every alternative that matches: firings are
  de-duplicated by rule and matched messages;
- identical messages are duplicates: every message gets a process-unique id;
- measured here: a fact that completes no rule still opens a session, and
  deleting such a session crashes the process (SIGSEGV), while keeping it uses
  up the 1,024 sessions a ruleset allows. Every ruleset therefore carries a
  sentinel rule that every fact completes, with an action that does nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine
from durable.engine import Host, MessageNotHandledException, MessageObservedException

from triggers.engine.durable.limits import check_limits
from triggers.engine.durable.patterns import definitions
from triggers.errors import ActionError, EngineError, RuleFileError
from triggers.rules.compiled import CompiledRuleSet

__all__ = ["DurableHost", "Firing", "get_host"]


@dataclass(frozen=True)
class Firing:
    """A rule whose patterns were completed, with the message matched by each pattern name."""

    rule_id: str
    patterns: tuple[tuple[str, Mapping[str, Any]], ...]
    #: True when the firing only says the event is one a count rule counts.
    member: bool = False

    @property
    def key(self) -> tuple[str, bool, tuple[Any, ...]]:
        """Identity for de-duplication: the rule and the ids of the matched messages."""
        return self.rule_id, self.member, tuple((name, m.get("id")) for name, m in self.patterns)

    def message(self, name: str) -> Mapping[str, Any]:
        """The message matched by the pattern called `name`."""
        for pattern, message in self.patterns:
            if pattern == name:
                return message
        raise KeyError(name)


class _SynchronousHost(Host):  # type: ignore[misc]
    """A durable_rules host without background dispatcher threads."""

    def _run(self) -> None:
        # The base class starts timer threads here; replay is driven synchronously.
        return None


class DurableHost:
    """One durable_rules host for the process, used from one thread at a time."""

    def __init__(self) -> None:
        self._host = _SynchronousHost()
        self._lock = threading.RLock()
        self._names: dict[str, str] = {}
        self._within_limits: set[str] = set()
        self._ids = itertools.count(1)
        self._fired: list[Firing] = []
        self._errors: list[BaseException] = []
        self._unhandled_sessions: set[tuple[str, str]] = set()

    @property
    def lock(self) -> threading.RLock:
        """Held for the whole evaluation of one case, so that cases never interleave."""
        return self._lock

    def check(self, rules: CompiledRuleSet) -> None:
        """Raise `RuleFileError` if the rule set goes over one of durable_rules' limits
        (worked out once per version)."""
        if rules.version in self._within_limits:
            return
        problems = check_limits(rules.rules)
        if problems:
            raise RuleFileError(problems)
        self._within_limits.add(rules.version)

    def register(self, rules: CompiledRuleSet) -> str:
        """Register a rule set (once per version) and return its durable_rules name.

        Raises `RuleFileError` if the rule set goes over one of durable_rules' limits.
        """
        with self._lock:
            if rules.version in self._names:
                return self._names[rules.version]
            self.check(rules)
            name = f"triggers_{rules.version}_{len(self._names)}"
            ruleset: dict[str, Any] = {}
            # Built afresh for each registration: set_rulesets mutates what it is given.
            for definition in definitions(rules):
                entry = definition.body
                entry["run"] = self._recorder(definition.rule, member=definition.member)
                ruleset[definition.name] = entry
            # Every fact must complete some rule: see the module docstring.
            ruleset["sentinel"] = {"all": [{"m": {"$ex": {"kind": 1}}}], "run": _ignore}
            try:
                self._host.set_rulesets({name: ruleset})
            except durable_rules_engine.error as error:
                raise EngineError(
                    f"durable_rules refused the compiled rule set: {error}"
                ) from error
            self._names[rules.version] = name
            return name

    def next_id(self) -> int:
        """A message id never used before in this process."""
        return next(self._ids)

    def _recorder(self, rule_id: str, *, member: bool = False) -> Callable[[Any], None]:
        def record(closure: Any) -> None:
            try:
                matched = closure._m
                patterns = tuple((name, dict(matched[name])) for name in sorted(matched))
                self._fired.append(Firing(rule_id, patterns, member))
            except BaseException as error:  # durable_rules would swallow it
                self._errors.append(error)

        return record

    def _call(self, action: Callable[[], Any]) -> tuple[bool, list[Firing]]:
        self._fired = []
        self._errors = []
        handled = True
        try:
            result = action()
        except (MessageNotHandledException, MessageObservedException):
            handled, result = False, None
        except durable_rules_engine.error as error:
            raise EngineError(f"durable_rules failed: {error}") from error
        if self._errors:
            raise ActionError(f"a rule action failed: {self._errors[0]!r}") from self._errors[0]
        if isinstance(result, Mapping) and "exception" in result:
            raise ActionError(f"a rule action failed inside durable_rules: {result['exception']}")
        unique: dict[tuple[str, bool, tuple[Any, ...]], Firing] = {}
        for firing in self._fired:
            unique.setdefault(firing.key, firing)
        return handled, list(unique.values())

    def assert_fact(self, name: str, fact: Mapping[str, Any]) -> tuple[bool, list[Firing]]:
        """Assert a fact; returns whether any rule could use it and what fired."""
        handled, fired = self._call(lambda: self._host.assert_fact(name, dict(fact)))
        if not handled:
            self._unhandled_sessions.add((name, str(fact["sid"])))
        return handled, fired

    def retract_fact(self, name: str, fact: Mapping[str, Any]) -> None:
        """Retract a fact asserted earlier."""
        self._call(lambda: self._host.retract_fact(name, dict(fact)))

    def delete_state(self, name: str, sid: str) -> None:
        """Forget everything about one case."""
        if (name, sid) in self._unhandled_sessions:
            # Deleting a session that saw an unhandled fact crashes durable_rules;
            # the sentinel rule makes this unreachable, so leave it rather than crash.
            self._unhandled_sessions.discard((name, sid))
            return
        try:
            self._host.delete_state(name, sid)
        except durable_rules_engine.error:
            # No state was ever created for this case (no fact matched any rule).
            return


def _ignore(_closure: Any) -> None:
    """The sentinel rule's action: nothing to do."""


_HOST: DurableHost | None = None
_HOST_LOCK = threading.Lock()


def get_host() -> DurableHost:
    """The process's durable_rules host, created on first use."""
    global _HOST  # noqa: PLW0603 -- one host per process, by design of durable_rules
    with _HOST_LOCK:
        if _HOST is None:
            _HOST = DurableHost()
        return _HOST
