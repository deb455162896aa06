"""Liquid as templates run here: resource limits on, every missing variable named, errors as values.

Liquid cannot execute code; the limits bound what a template (or a huge variable) can cost: loop
iterations, output size, nesting and the size of what a template assigns.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Iterator, Mapping

from liquid import Environment
from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate
from liquid.undefined import Undefined

# Tags that pull other template files in: a template here is one self-contained file.
FORBIDDEN_TAGS = frozenset({"include", "render"})
_missing: ContextVar[list[str] | None] = ContextVar("courrier_missing_variables", default=None)


class MissingVariables(Exception):
    """The variables a template uses that the request did not give, in the order the template uses them."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class RenderFailed(Exception):
    """Liquid refused to render (a filter's bad argument, a resource limit): a one-line reason."""


class NamingUndefined(Undefined):
    """Strict in effect: any use of an undefined variable is noted, so one render names all of them.

    Python-liquid's ``StrictUndefined`` stops at the first one; this one renders on (as empty) and the
    caller raises ``MissingVariables`` afterwards. The ``default`` filter applies without a note, and
    so do comparisons (``x == nil``, ``case x``), which test whether a variable is there.
    """

    __slots__ = ()
    force_liquid_default = True

    def _note(self) -> None:
        missing = _missing.get()
        if missing is not None:
            # The hint names the full path (``order.id is undefined``) when a given variable lacks a field.
            hint = self.hint or ""
            missing.append(hint[: -len(" is undefined")].strip("'") if hint.endswith(" is undefined") else self.name)

    def __str__(self) -> str:
        self._note()
        return ""

    def __liquid__(self) -> object:
        self._note()
        return None

    def __eq__(self, other: object) -> bool:
        self._note()
        return super().__eq__(other)

    __hash__ = Undefined.__hash__

    def __contains__(self, item: object) -> bool:
        self._note()
        return False

    def __getitem__(self, key: str) -> object:
        self._note()
        return self

    def __len__(self) -> int:
        self._note()
        return 0

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter([])

    def __int__(self) -> int:
        self._note()
        return 0


class SandboxedLiquid(Environment):
    """Liquid with resource limits on (python-liquid leaves loops, output and assigns unbounded by default)."""

    loop_iteration_limit = 1_000
    output_stream_limit = 20_000
    context_depth_limit = 30
    block_nesting_limit = 30
    local_namespace_limit = 10_000


ENV = SandboxedLiquid(undefined=NamingUndefined)


def compile_text(source: str) -> BoundTemplate:
    """Parse ``source``; ``ValueError`` for a syntax error, an unknown filter or a tag that loads other files."""
    try:
        template = ENV.from_string(source)
    except LiquidError as exc:
        raise ValueError(f"Liquid syntax: {exc.message}") from exc
    analysis = template.analyze(include_partials=False)
    unknown = sorted(set(analysis.filters) - set(ENV.filters))
    if unknown:
        raise ValueError(f"unknown Liquid filters: {', '.join(unknown)}")
    forbidden = sorted(set(analysis.tags) & FORBIDDEN_TAGS)
    if forbidden:
        raise ValueError(f"tags not allowed in a template file: {', '.join(forbidden)}")
    return template


def render_tree(node: Any, variables: Mapping[str, str], *, strict: bool = True) -> Any:
    """Render every template in a tree of dicts and lists; ``MissingVariables`` naming all of them (when ``strict``;
    otherwise a missing variable renders empty), or ``RenderFailed``."""
    missing: list[str] = []
    token = _missing.set(missing)
    try:
        rendered = _render(node, dict(variables))
    except LiquidError as exc:
        raise RenderFailed(exc.message) from exc
    finally:
        _missing.reset(token)
    if missing and strict:
        raise MissingVariables(list(dict.fromkeys(missing)))
    return rendered


def _render(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, BoundTemplate):
        return node.render(variables)
    if isinstance(node, list):
        return [_render(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _render(value, variables) for key, value in node.items()}
    return node
