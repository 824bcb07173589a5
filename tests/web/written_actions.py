"""The action ids the code can write, read from its source: what the audit log's ``action``
and a queue item's history ``action`` can hold, for the test that each has a label.

An action is written by a call to a sink (``audit.record``, ``AuditEntry``, ``QueueEvent``)
naming it in ``action=``, or through a helper that passes one of its parameters there, maybe
behind a prefix (``_audit(session, loan, "notice", actor)`` writes ``loan.notice``). The sync
of a reconciliation run writes its history rows from ``(item id, action, note)`` tuples.
Whatever cannot be read as text (an action computed some other way) is reported, so a new way
of writing one is seen by the test rather than missed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gateway

SOURCE = Path(gateway.__file__).resolve().parent
AUDIT_SINKS = {"record", "AuditEntry"}
QUEUE_SINKS = {"QueueEvent"}
ACTION_KEYWORDS = {"action", "audit_action"}
# the audit log's own module passes the action through to the row and the hash
SKIPPED = {Path("audit", "service.py")}
SYNC = Path("queue", "service.py")  # the module whose sync writes history rows from tuples


@dataclass(frozen=True)
class Helper:
    """A function that writes ``prefix + <its parameter>`` to a sink of ``kind``."""

    kind: str  # "audit" or "queue"
    prefix: str
    param: str
    position: int | None  # its index among the positional parameters, if it has one
    default: ast.expr | None


@dataclass
class Written:
    audit: set[str] = field(default_factory=set)
    queue: set[str] = field(default_factory=set)
    unread: list[str] = field(default_factory=list)

    def add(self, kind: str, action: str) -> None:
        (self.audit if kind == "audit" else self.queue).add(action)


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _texts(node: ast.expr | None) -> list[str] | None:
    """The strings an expression can be: a constant, or either side of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _texts(node.body), _texts(node.orelse)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _passed(value: ast.expr, params: list[str]) -> tuple[str, str] | None:
    """(prefix, parameter) when ``value`` is a parameter, bare or in ``f"prefix{param}"``."""
    if isinstance(value, ast.Name) and value.id in params:
        return "", value.id
    if (
        isinstance(value, ast.JoinedStr)
        and len(value.values) == 2
        and isinstance(value.values[0], ast.Constant)
        and isinstance(value.values[1], ast.FormattedValue)
        and isinstance(value.values[1].value, ast.Name)
        and value.values[1].value.id in params
    ):
        return str(value.values[0].value), value.values[1].value.id
    return None


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def _helpers_of(function: ast.FunctionDef, sinks: dict[str, str]) -> list[Helper]:
    positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    keyword_only = [a.arg for a in function.args.kwonlyargs]
    defaults: dict[str, ast.expr | None] = dict.fromkeys(positional + keyword_only)
    for name, given in zip(reversed(positional), reversed(function.args.defaults), strict=False):
        defaults[name] = given
    for name, maybe in zip(keyword_only, function.args.kw_defaults, strict=True):
        defaults[name] = maybe
    found = []
    for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
        kind = sinks.get(_called(call))
        if kind is None:
            continue
        for keyword in call.keywords:
            if keyword.arg not in ACTION_KEYWORDS:
                continue
            passed = _passed(keyword.value, list(defaults))
            if passed is not None:
                prefix, param = passed
                position = positional.index(param) if param in positional else None
                found.append(Helper(kind, prefix, param, position, defaults[param]))
    return found


def _argument(call: ast.Call, helper: Helper) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == helper.param:
            return keyword.value
    if helper.position is not None and helper.position < len(call.args):
        return call.args[helper.position]
    return helper.default


def _sync_events(tree: ast.Module) -> list[ast.expr]:
    """The action of each ``(item id, action, note)`` tuple put in a list named ``events``."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        tuples: list[ast.expr] = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if (
                isinstance(target, ast.Name)
                and target.id == "events"
                and node.func.attr == "append"
            ):
                tuples = list(node.args)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "events" for t in node.targets
        ):
            tuples = [n for n in ast.walk(node.value) if isinstance(n, ast.Tuple)]
        found.extend(t.elts[1] for t in tuples if isinstance(t, ast.Tuple) and len(t.elts) == 3)
    return found


def written_actions(source: Path = SOURCE) -> Written:
    """The actions the package at ``source`` can write (its migrations left aside)."""
    modules = {
        path: ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(source.rglob("*.py"))
        if path.relative_to(source) not in SKIPPED and "migrations" not in path.parts
    }
    sinks = {name: "audit" for name in AUDIT_SINKS} | {name: "queue" for name in QUEUE_SINKS}
    # helpers by name: a private one (``_audit``) only within its own module
    helpers: dict[tuple[Path | None, str], list[Helper]] = {}
    for path, tree in modules.items():
        for defined in _functions(tree):
            found = _helpers_of(defined, sinks)
            if found:
                scope = path if defined.name.startswith("_") else None
                helpers.setdefault((scope, defined.name), []).extend(found)
    written = Written()
    for path, tree in modules.items():
        for function, call in _calls(tree):
            name = _called(call)
            where = f"{path.relative_to(source)}:{call.lineno}"
            kind = sinks.get(name)
            if kind is not None:
                params = (
                    [a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)]
                    if isinstance(function, ast.FunctionDef)
                    else []
                )
                for keyword in call.keywords:
                    if keyword.arg not in ACTION_KEYWORDS:
                        continue
                    texts = _texts(keyword.value)
                    if texts is not None:
                        for text in texts:
                            written.add(kind, text)
                    elif _passed(keyword.value, params) is None:
                        # neither text nor a helper's parameter: cannot be read here
                        written.unread.append(f"{where}: {ast.unparse(keyword.value)}")
            for helper in helpers.get((path, name), []) + helpers.get((None, name), []):
                argument = _argument(call, helper)
                texts = _texts(argument)
                if texts is None:
                    shown = ast.unparse(argument) if argument is not None else "(missing)"
                    written.unread.append(f"{where}: {shown}")
                    continue
                for text in texts:
                    written.add(helper.kind, helper.prefix + text)
        if path.relative_to(source) == SYNC:
            for node in _sync_events(tree):
                texts = _texts(node)
                if texts is None:
                    written.unread.append(f"{SYNC}:{node.lineno}: {ast.unparse(node)}")
                else:
                    written.queue.update(texts)
    # a helper's default is written by any call that leaves the parameter out
    for found in helpers.values():
        for helper in found:
            for text in _texts(helper.default) or []:
                written.add(helper.kind, helper.prefix + text)
    return written


def _calls(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef | ast.Module, ast.Call]]:
    """Every call with the innermost function around it (the module for a top-level call)."""

    def walk(node: ast.AST, owner: ast.FunctionDef | ast.Module) -> Iterator[Any]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                yield owner, child
            yield from walk(child, child if isinstance(child, ast.FunctionDef) else owner)

    yield from walk(tree, tree)
