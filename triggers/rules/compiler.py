"""Check rules against the event catalogue and compile them to the rule model.

Everything a rule names is checked here, before anything reaches an engine,
which might accept unknown operators and fields silently and leave the rule
quietly dead. The output is plain data (`CompiledRuleSet`) in the rule
language's own terms: an engine backend translates it for itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from triggers._yaml import KeyPath, Located
from triggers.errors import Problem, RuleFileError, suggest
from triggers.models.alerts import ACTIONS, DEFAULT_ACT_WITHIN, PARAM_VALUES
from triggers.models.events import EVENT_TYPES
from triggers.rules.catalogue import FieldSpec, state_fields
from triggers.rules.compiled import (
    AllOf,
    CompiledAction,
    CompiledChange,
    CompiledCount,
    CompiledDue,
    CompiledRelation,
    CompiledRule,
    CompiledRuleSet,
    CompiledThrottle,
    Condition,
    RuleSource,
    Test,
    flatten,
    has_alternatives,
)
from triggers.rules.conditions import ConditionChecker, common_fields
from triggers.rules.duration import Duration, DurationError
from triggers.rules.limits import (
    MAX_RULES,
    MIN_DUE_PERIOD,
    RuleLimits,
    shown,
    too_many_rules,
)
from triggers.rules.lint import rule_warnings
from triggers.rules.model import (
    ActionSpec,
    Changed,
    Count,
    Due,
    Related,
    Rule,
    RuleFile,
    Throttle,
    Unless,
    When,
)
from triggers.rules.template import Template, TemplateSyntaxError

__all__ = ["SourceFile", "compile_rule_files"]

M = TypeVar("M", bound=BaseModel)

#: Event fields a template may name besides the type-specific ones.
_EVENT_TEMPLATE_NAMES = ("type", "at", "id", "source", "note", "recorded_at")
_RULE_TEMPLATE_NAMES = ("id", "title")


@dataclass
class _CheckedWhen:
    """The parts of a rule's `when`, checked."""

    types: tuple[str, ...]
    specs: Mapping[str, FieldSpec]
    where: Condition = field(default_factory=lambda: AllOf(()))
    case: Condition = field(default_factory=lambda: AllOf(()))
    relation: CompiledRelation | None = None
    count: CompiledCount | None = None
    changed: CompiledChange | None = None
    due: CompiledDue | None = None


class SourceFile:
    """A rule file's name, its text and the YAML it parsed to."""

    def __init__(self, file: str, text: str, located: Located) -> None:
        self.file = file
        self.text = text
        self.located = located


class _Checker(ConditionChecker):
    def __init__(self, source: SourceFile) -> None:
        super().__init__(source.file, source.located)
        self.source = source

    # --- structure (Pydantic) --------------------------------------------------

    def structure(self) -> list[Any]:
        """The raw rules of the file, after checking the file's top level."""
        data = self.source.located.data
        if not isinstance(data, Mapping):
            found = "nothing" if data is None else type(data).__name__
            self.add((), f"a rule file is a mapping with a 'rules' list, got {found}")
            return []
        for key in data:
            if key != "rules":
                self.add(
                    (key,),
                    f"unknown key {key!r}",
                    key=True,
                    suggestion=suggest(str(key), ["rules"]),
                )
        rules = data.get("rules")
        if "rules" not in data:
            self.add((), "missing required key 'rules'")
        elif not isinstance(rules, list):
            self.add(("rules",), "'rules' must be a list of rules")
        return rules if isinstance(rules, list) else []

    def validated(
        self, model: type[M], raw: Any, path: KeyPath, *, report: bool = True
    ) -> M | None:
        """`raw` as a `model`, or None; problems are reported unless `report` is false."""
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            if report:
                for detail in error.errors():
                    loc = (*path, *detail["loc"])
                    self._structure_problem(self.source.located.data, loc, detail["type"], detail)
            return None

    def _structure_problem(
        self, data: Any, loc: tuple[str | int, ...], kind: str, detail: Any
    ) -> None:
        path = _data_path(data, loc)
        name = str(path[-1]) if path else ""
        if kind == "extra_forbidden":
            allowed = _allowed_keys(path[:-1])
            self.add(path, f"unknown key {name!r}", key=True, suggestion=suggest(name, allowed))
        elif kind == "missing":
            self.add(path[:-1], f"missing required key {name!r}")
        elif kind == "literal_error" and name == "action":
            given = detail["input"]
            self.add(
                path,
                f"unknown action {shown(given)}: expected one of {', '.join(ACTIONS)}",
                suggestion=suggest(given, ACTIONS) if isinstance(given, str) else None,
            )
        elif kind == "literal_error":
            self.add(
                path,
                f"{shown(detail['input'])} is not allowed: expected"
                f" {detail.get('ctx', {}).get('expected', '')}",
            )
        elif kind == "string_pattern_mismatch" and name == "id":
            self.add(
                path,
                "a rule id is letters, digits, '_', '-' and '.', starting with a letter or digit",
            )
        else:
            self.add(path, _lower_first(detail["msg"]))

    # --- meaning -----------------------------------------------------------------

    def rule(self, index: int, raw: Any) -> CompiledRule | None:
        """Check and compile one rule; every problem found is reported."""
        path: KeyPath = ("rules", index)
        rule = self.validated(Rule, raw, path)
        if rule is None:
            self._check_parts(raw, path)
            return None
        before = len(self.problems)
        when = self._when(rule.when, (*path, "when"))
        actions = tuple(
            self._action(spec, (*path, "then", i), when.specs) for i, spec in enumerate(rule.then)
        )
        throttle = self._throttle(rule.throttle, (*path, "throttle"), when.specs)
        if len(self.problems) > before or not when.types:
            return None
        position = self.source.located.position(path)
        at_id = self.source.located.position((*path, "id"), key=True)
        relation, absent = when.relation, rule.when.absent
        return CompiledRule(
            id=rule.id,
            title=rule.title,
            learning=rule.learning.strip(),
            event_types=when.types,
            condition=flatten(AllOf((when.where, when.case))),
            actions=tuple(a for a in actions if a is not None),
            source=RuleSource(
                self.source.file,
                position.line if position else None,
                index,
                at_id.line if at_id else None,
                at_id.column if at_id else None,
            ),
            after=relation if rule.when.after is not None else None,
            absent=relation if absent is not None and not absent.before else None,
            absent_before=relation if absent is not None and absent.before else None,
            count=when.count,
            changed=when.changed,
            throttle=throttle,
            due=when.due,
        )

    def _check_parts(self, raw: Any, path: KeyPath) -> None:
        """Check the meaning of the parts of a malformed rule that are well formed."""
        if not isinstance(raw, Mapping):
            return
        specs: Mapping[str, FieldSpec] = {}
        when = self.validated(When, raw.get("when"), (*path, "when"), report=False)
        if when is not None:
            specs = self._when(when, (*path, "when")).specs
        then = raw.get("then")
        for i, item in enumerate(then if isinstance(then, list) else []):
            action = self.validated(ActionSpec, item, (*path, "then", i), report=False)
            if action is not None:
                self._action(action, (*path, "then", i), specs)

    def _when(self, when: When, path: KeyPath) -> _CheckedWhen:
        types = self._event_types(when, (*path, "event"))
        specs = common_fields(types) if types else {}
        checked = _CheckedWhen(types, specs)
        if when.where is not None and types:
            checked.where = self.block(when.where, (*path, "where"), "event", specs)
        if when.case is not None:
            checked.case = self.block(when.case, (*path, "case"), "state", state_fields())
        trigger_specs = specs if types else None
        if when.after is not None:
            checked.relation = self._relation(when.after, (*path, "after"), trigger_specs)
        if when.absent is not None:
            checked.relation = self._relation(when.absent, (*path, "absent"), trigger_specs)
            absent = checked.relation
            if absent is not None and not when.absent.before and has_alternatives(absent.condition):
                self.add(
                    (*path, "absent", "where"),
                    "conditions on an absent event can only be all-of tests (equal, compare,"
                    " present): 'any', 'not', lists of values and 'ne' cannot be checked for"
                    " an absence; write one rule for each alternative",
                )
        if when.count is not None:
            checked.count = self._count(when.count, (*path, "count"), types, specs)
        if when.due is not None:
            checked.due = self._due(when.due, (*path, "due"))
        if when.changed is not None and types:
            checked.changed = self._changed(when.changed, (*path, "changed"), types, specs)
            if checked.changed is not None:
                direction = Test("event", checked.changed.key, "eq", when.changed.direction)
                checked.where = flatten(AllOf((checked.where, direction)))
        if when.changed is not None and when.count is not None:
            self.add((*path, "changed"), "'changed' and 'count' cannot be combined")
        forms = [
            name for name in ("after", "absent", "count", "due") if getattr(when, name) is not None
        ]
        if len(forms) > 1:
            self.add(
                (*path, forms[1]),
                f"a rule takes one time form: {forms[0]!r} and {forms[1]!r} cannot be combined",
            )
        return checked

    def _needs_field(
        self, name: str, specs: Mapping[str, FieldSpec] | None, path: KeyPath, message: str
    ) -> None:
        """Report `message` at `path` when the known fields `specs` lack `name`."""
        if specs and name not in specs:
            self.add(path, message, suggestion=suggest(name, specs))

    def _throttle(
        self, throttle: str | Throttle | None, path: KeyPath, specs: Mapping[str, FieldSpec]
    ) -> CompiledThrottle | None:
        """Check a throttle's window and key fields."""
        if throttle is None:
            return None
        within = throttle if isinstance(throttle, str) else throttle.within
        where = path if isinstance(throttle, str) else (*path, "within")
        per = () if isinstance(throttle, str) else tuple(throttle.per or ())
        for i, name in enumerate(per):
            self._needs_field(
                name, specs, (*path, "per", i), f"this rule's event has no field {name!r}"
            )
        reset: tuple[str, ...] = ()
        if isinstance(throttle, Throttle) and throttle.reset_by is not None:
            reset = self._types(throttle.reset_by, (*path, "reset_by"))
        try:
            return CompiledThrottle(Duration.parse(within), per, reset)
        except DurationError as error:
            self.add(where, str(error))
            return None

    def _changed(
        self,
        changed: Changed,
        path: KeyPath,
        types: tuple[str, ...],
        specs: Mapping[str, FieldSpec],
    ) -> CompiledChange | None:
        """Check that a change compares an ordered field, keyed by fields the event has."""
        before = len(self.problems)
        spec = specs.get(changed.field)
        if spec is None:
            self.add(
                (*path, "field"),
                f"this rule's event has no field {changed.field!r}",
                suggestion=suggest(changed.field, specs),
            )
        elif not spec.ordered:
            self.add(
                (*path, "field"),
                f"{changed.field!r} cannot go down or up: it is"
                f" {spec.describe()}, not a number or an ordered level",
            )
        for i, name in enumerate(changed.same or []):
            self._needs_field(
                name, specs, (*path, "same", i), f"this rule's event has no field {name!r}"
            )
        if len(self.problems) > before:
            return None
        return CompiledChange(types, changed.field, tuple(changed.same or ()))

    def _count(
        self,
        count: Count,
        path: KeyPath,
        types: tuple[str, ...],
        specs: Mapping[str, FieldSpec],
    ) -> CompiledCount | None:
        """Check a count's window and fields."""
        before = len(self.problems)
        window: Duration | None = None
        try:
            window = Duration.parse(count.within)
        except DurationError as error:
            self.add((*path, "within"), str(error))
        unless = None
        if count.unless is not None:
            unless = self._unless(count.unless, (*path, "unless"), types, specs, window)
        if count.distinct is not None:
            self._needs_field(
                count.distinct,
                specs,
                (*path, "distinct"),
                f"this rule's event has no field {count.distinct!r} to count",
            )
        for i, name in enumerate(count.same or []):
            self._needs_field(
                name,
                specs,
                (*path, "same", i),
                f"this rule's event has no field {name!r} to compare",
            )
        if count.distinct is not None and count.distinct in (count.same or []):
            self.add(
                (*path, "distinct"), f"{count.distinct!r} cannot be both distinct and the same"
            )
        if len(self.problems) > before or window is None:
            return None
        return CompiledCount(
            count.at_least, window, count.distinct, tuple(count.same or ()), unless
        )

    def _unless(
        self,
        unless: Unless,
        path: KeyPath,
        types: tuple[str, ...],
        trigger_specs: Mapping[str, FieldSpec],
        window: Duration | None,
    ) -> CompiledRelation | None:
        """Check the event that cancels a count: its types, conditions and shared fields."""
        before = len(self.problems)
        unless_types = self._event_types(unless, (*path, "event"))
        specs = common_fields(unless_types) if unless_types else {}
        condition: Condition = AllOf(())
        if unless.where is not None and unless_types:
            condition = self.block(unless.where, (*path, "where"), "event", specs)
        for theirs, ours in unless.pairs:
            where = (*path, "same", theirs) if isinstance(unless.same, dict) else (*path, "same")
            self._needs_field(
                theirs, specs, where, f"the unless event has no field {theirs!r} to compare"
            )
            self._needs_field(
                ours,
                trigger_specs,
                where,
                f"the triggering event has no field {ours!r} to compare",
            )
        for i, event_type in enumerate(unless_types):
            if event_type in types:
                where = (*path, "event") if isinstance(unless.event, str) else (*path, "event", i)
                self.add(
                    where,
                    f"{event_type!r} is counted by this rule: an 'unless' event is of other types",
                )
        if len(self.problems) > before or not unless_types or window is None:
            return None
        return CompiledRelation(unless_types, condition, window, unless.pairs)

    def _relation(
        self, related: Related, path: KeyPath, trigger_specs: Mapping[str, FieldSpec] | None
    ) -> CompiledRelation | None:
        """Check another event's types, conditions, window and shared fields."""
        before = len(self.problems)
        types = self._event_types(related, (*path, "event"))
        specs = common_fields(types) if types else {}
        condition: Condition = AllOf(())
        if related.where is not None and types:
            condition = self.block(related.where, (*path, "where"), "event", specs)
        try:
            window = Duration.parse(related.within)
        except DurationError as error:
            self.add((*path, "within"), str(error))
        for key, names, pairs in (
            ("same", related.same, related.pairs),
            ("differ", related.differ, related.differ_pairs),
        ):
            for theirs, ours in pairs:
                where = (*path, key, theirs) if isinstance(names, dict) else (*path, key)
                self._needs_field(
                    theirs, specs, where, f"the other event has no field {theirs!r} to compare"
                )
                self._needs_field(
                    ours,
                    trigger_specs,
                    where,
                    f"the triggering event has no field {ours!r} to compare",
                )
        if related.differ is not None and path[-1] != "after" and not related.before:
            self.add(
                (*path, "differ"),
                "'differ' is only for 'after' and 'absent' with 'before': an 'absent' event"
                " that differs cannot be waited for; write the values it must not have in"
                " its 'where'",
                key=True,
            )
        if related.before and path[-1] != "absent":
            self.add(
                (*path, "before"),
                f"'before' is only for 'absent': {path[-1]!r} always looks before the"
                " triggering event",
                key=True,
            )
        for pair in set(related.pairs) & set(related.differ_pairs):
            self.add(
                (*path, "differ"),
                f"{pair[0]!r} cannot be both the same and different",
            )
        if len(self.problems) > before or not types:
            return None
        return CompiledRelation(types, condition, window, related.pairs, related.differ_pairs)

    def _due(self, due: Due, path: KeyPath) -> CompiledDue | None:
        """Check a due event's types and conditions, and the periods for each state value."""
        before = len(self.problems)
        types = self._event_types(due, (*path, "event"))
        specs = common_fields(types) if types else {}
        condition: Condition = AllOf(())
        if due.where is not None and types:
            condition = self.block(due.where, (*path, "where"), "event", specs)
        states = state_fields()
        spec = states.get(due.state)
        if spec is None:
            self.add(
                (*path, "state"),
                f"unknown case-state name {due.state!r}",
                suggestion=suggest(due.state, states),
            )
        elif spec.kind != "enum":
            self.add(
                (*path, "state"),
                f"{due.state!r} is {spec.describe()}: a period is set by a value with names,"
                " such as a risk level",
            )
        every: list[tuple[str, Duration]] = []
        for value, text in due.every.items():
            if spec is not None and spec.kind == "enum" and value not in spec.values:
                self.add(
                    (*path, "every", value),
                    f"{due.state!r} is never {value!r}: it is {spec.describe()}",
                    key=True,
                    suggestion=suggest(value, [str(v) for v in spec.values]),
                )
            try:
                period = Duration.parse(text)
            except DurationError as error:
                self.add((*path, "every", value), str(error))
                continue
            if period.months == 0 and period.seconds < MIN_DUE_PERIOD:
                self.add(
                    (*path, "every", value),
                    f"{text!r} is too short: a due period is at least 1 day (the clock"
                    " re-arms at each missed deadline)",
                )
            every.append((value, period))
        if len(self.problems) > before or not types:
            return None
        return CompiledDue(types, condition, due.state, tuple(every))

    def _event_types(self, when: When | Related | Unless | Due, path: KeyPath) -> tuple[str, ...]:
        return self._types(when.event, path)

    def _types(self, named: str | list[str], path: KeyPath) -> tuple[str, ...]:
        """Event types named as one or a list, checked against the catalogue."""
        types = (named,) if isinstance(named, str) else tuple(named)
        if not types:
            self.add(path, "name at least one event type")
        ok = True
        for i, event_type in enumerate(types):
            if event_type not in EVENT_TYPES:
                where = path if isinstance(named, str) else (*path, i)
                self.add(
                    where,
                    f"unknown event type {event_type!r}",
                    suggestion=suggest(event_type, EVENT_TYPES),
                )
                ok = False
        return tuple(dict.fromkeys(types)) if ok else ()

    def _action(
        self, spec: ActionSpec, path: KeyPath, fields: Mapping[str, FieldSpec]
    ) -> CompiledAction | None:
        allowed = ACTIONS[spec.action]
        params: dict[str, Template | int] = {}
        ok = True
        for name, required in allowed.items():
            if required and name not in spec.params:
                self.add((*path, "params"), f"action {spec.action!r} needs the param {name!r}")
                ok = False
        for name, value in spec.params.items():
            where = (*path, "params", name)
            if name not in allowed:
                expected = ", ".join(allowed) or "no params"
                self.add(
                    where,
                    f"unknown param {name!r} for action {spec.action!r} (it takes {expected})",
                    key=True,
                    suggestion=suggest(name, allowed),
                )
                ok = False
            elif spec.action == "escalate_mappa" and name == "level" and value not in (2, 3):
                self.add(where, f"MAPPA escalation level must be 2 or 3, got {shown(value)}")
                ok = False
            elif value not in PARAM_VALUES.get((spec.action, name), (value,)):
                valid = PARAM_VALUES[spec.action, name]
                self.add(
                    where,
                    f"param {name!r} of action {spec.action!r} must be one of"
                    f" {', '.join(repr(v) for v in valid)}, got {shown(value)}",
                    suggestion=suggest(str(value), [str(v) for v in valid]),
                )
                ok = False
            elif isinstance(value, str):
                template = self._template(value, where, fields)
                if template is None:
                    ok = False
                else:
                    params[name] = template
            else:
                params[name] = value
        reason = self._template(spec.reason, (*path, "reason"), fields)
        try:
            act_within = Duration.parse(spec.act_within or DEFAULT_ACT_WITHIN[spec.action])
        except DurationError as error:
            self.add((*path, "act_within"), str(error))
            ok = False
        if not ok or reason is None:
            return None
        return CompiledAction(spec.action, params, spec.priority, reason, act_within)

    def _template(
        self, text: str, path: KeyPath, fields: Mapping[str, FieldSpec]
    ) -> Template | None:
        try:
            template = Template.parse(text)
        except TemplateSyntaxError as error:
            self.add(path, f"bad template: {error}")
            return None
        valid = True
        for namespace, name in template.names:
            if namespace == "event":
                known: Sequence[str] = [*fields, *_EVENT_TEMPLATE_NAMES]
            elif namespace == "case":
                known = [*state_fields(), "id"]
            else:
                known = _RULE_TEMPLATE_NAMES
            if name not in known:
                self.add(
                    path,
                    f"the template names {{{namespace}.{name}}}, which this rule's"
                    f" {namespace} does not have",
                    suggestion=suggest(name, known),
                )
                valid = False
        return template if valid else None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _data_path(data: Any, loc: tuple[str | int, ...]) -> KeyPath:
    """Pydantic's error location as a path into the data, without union branch names."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, Mapping) and part in node:  # noqa: SIM114 -- narrowed apart for mypy
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif last and isinstance(node, Mapping):
            node = None
        else:
            continue
        path.append(part)
    return tuple(path)


def _allowed_keys(path: KeyPath) -> list[str]:
    """The keys the format allows in the mapping at `path`."""
    shape = tuple("#" if isinstance(p, int) else p for p in path)
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): RuleFile,
        ("rules", "#"): Rule,
        ("rules", "#", "when"): When,
        ("rules", "#", "when", "after"): Related,
        ("rules", "#", "when", "absent"): Related,
        ("rules", "#", "when", "count"): Count,
        ("rules", "#", "when", "count", "unless"): Unless,
        ("rules", "#", "when", "due"): Due,
        ("rules", "#", "when", "changed"): Changed,
        ("rules", "#", "throttle"): Throttle,
        ("rules", "#", "then", "#"): ActionSpec,
    }
    model = models.get(shape)
    return list(model.model_fields) if model is not None else []


def compile_rule_files(sources: Sequence[SourceFile]) -> CompiledRuleSet:
    """Check and compile rule files; raises `RuleFileError` with every problem in every file.

    Rules that are valid but can never fire, or that another rule shadows, come back
    as the rule set's `warnings`.
    """
    problems: list[Problem] = []
    compiled: list[CompiledRule] = []
    placed: dict[str, tuple[SourceFile, int]] = {}
    first_seen: dict[str, tuple[str, int | None]] = {}
    for source in sources:
        checker = _Checker(source)
        limits = RuleLimits(source.file, source.located)
        raw_rules = checker.structure()
        for index, raw in enumerate(raw_rules[: limits.rules(raw_rules)]):
            if not limits.rule(index, raw):
                continue
            rule_id = raw.get("id") if isinstance(raw, Mapping) else None
            if isinstance(rule_id, str) and rule_id in first_seen:
                file, line = first_seen[rule_id]
                checker.add(
                    ("rules", index, "id"),
                    f"duplicate rule id {rule_id!r} (first at {file}:{line})",
                )
                continue
            if isinstance(rule_id, str):
                position = source.located.position(("rules", index, "id"))
                first_seen[rule_id] = (source.file, position.line if position else None)
            result = checker.rule(index, raw)
            if result is not None:
                compiled.append(result)
                placed[result.id] = (source, index)
        found = [*checker.problems, *limits.problems]
        problems.extend(sorted(found, key=lambda p: (p.line or 0, p.column or 0)))
    if not problems and len(compiled) > MAX_RULES:
        problems.append(compiled[MAX_RULES].source.problem(too_many_rules()))
    if problems:
        raise RuleFileError(problems)

    def locate(rule: CompiledRule, message: str, part: tuple[str, ...] = ("id",)) -> Problem:
        source, index = placed[rule.id]
        return source.located.problem(source.file, ("rules", index, *part), message, key=True)

    digest = hashlib.sha256()
    for text in sorted(source.text for source in sources):
        digest.update(text.encode())
        digest.update(b"\0")
    return CompiledRuleSet(
        tuple(compiled),
        digest.hexdigest()[:16],
        tuple(s.file for s in sources),
        tuple(rule_warnings(compiled, locate)),
        tuple(s.text for s in sources),
    )
