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
    Condition,
    RuleSource,
    Test,
    flatten,
    has_alternatives,
)
from triggers.rules.conditions import common_fields
from triggers.rules.duration import Duration, DurationError
from triggers.rules.forms import FormChecker
from triggers.rules.limits import (
    MAX_RULES,
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


class _Checker(FormChecker):
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
