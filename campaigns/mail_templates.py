"""The template language of offer e-mails: Django's engine, sandboxed to a small context.

Retailer admins write the subject and bodies (``EmailTemplate``). They are rendered by a
standalone :class:`django.template.Engine` with no template directories and no tag libraries
beyond the built-ins, over a context of plain strings and numbers (:data:`VARIABLES`), so a
template can reach neither other templates nor Python objects. ``{% debug %}`` (which would
print the context and the loaded modules) is refused. HTML is autoescaped; the subject and the
plain text are not (they are not HTML). An unknown variable renders as an empty string.

No model import here: the model's ``clean()`` uses :func:`template_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.defaulttags import DebugNode

#: The documented variables (docs/delivery.md), with the sample the preview and the checks use.
VARIABLES: dict[str, str] = {
    "first_name": "",
    "retailer": "Example Stores",
    "bonus": "10% off your next basket",
    "value": "10 %",
    "code": "ABCD2345EFGH6789",
    "qr": "cid:bonus-qr",
    "valid_from": "2026-12-07",
    "valid_until": "2026-12-13",
    "time_zone": "Europe/Berlin",
    "currency": "EUR",
    "points_balance": "1250",
    "portal_url": "https://loyalty.example/portal/sample/",
    "unsubscribe_url": "https://loyalty.example/unsubscribe/sample/",
}
FIELDS = ("subject", "text_body", "html_body")


@lru_cache(maxsize=2)
def engine(*, html: bool) -> Engine:
    """The sandboxed engine: autoescaping for HTML only."""
    return Engine(dirs=[], app_dirs=False, libraries={}, autoescape=html, string_if_invalid="")


def _check(template: Template) -> None:
    if template.nodelist.get_nodes_by_type(DebugNode):
        raise TemplateSyntaxError("the {% debug %} tag is not allowed")


@lru_cache(maxsize=256)
def compile_template(source: str, *, html: bool) -> Template:
    """Compile ``source`` (cached by text: a batch renders thousands of messages).

    Raises:
        TemplateSyntaxError: it does not compile, or uses a refused tag.
    """
    template = engine(html=html).from_string(source)
    _check(template)
    return template


def render(template: Template, variables: Mapping[str, Any]) -> str:
    """Render ``template`` over ``variables`` only (nothing else is reachable)."""
    return template.render(Context(dict(variables), autoescape=template.engine.autoescape))


def template_errors(sources: Mapping[str, str]) -> dict[str, str]:
    """Per field of :data:`FIELDS`, why its template is refused (empty when all are fine)."""
    errors: dict[str, str] = {}
    for field in FIELDS:
        try:
            render(compile_template(sources[field], html=field == "html_body"), VARIABLES)
        except TemplateSyntaxError as exc:
            errors[field] = f"Template error: {exc}"
    if not errors and "\n" in render(compile_template(sources["subject"], html=False), VARIABLES):
        errors["subject"] = "The subject must be one line."
    return errors
