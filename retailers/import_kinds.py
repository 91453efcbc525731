"""Who reads each import kind: a registry filled by the apps that own the rows.

``retailers`` runs the imports (jobs, contract checks, exports) but sits below ``customers`` and
``campaigns`` in the layers contract (pyproject.toml), so it never imports their resources or the
bulk transactions loader. Each app registers its own kinds in its ``AppConfig.ready``.

A bulk loader may be registered by its dotted path and is then imported when it is first
needed: the transactions loader imports pandas, numpy and pyarrow, which ``ready`` would
otherwise load into every start-up (0.4 s for each command and web worker).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from retailers.models import Retailer
    from retailers.resources import BaseResource


class BulkResult(Protocol):
    def as_dict(self) -> Any: ...


#: ``loader(retailer=..., path=..., create_missing_customers=..., progress=...)``.
BulkLoader = Callable[..., BulkResult]

_RESOURCES: dict[str, type[BaseResource]] = {}
_BULK_LOADERS: dict[str, BulkLoader | str] = {}


def import_kind_register(
    *, kind: str, resource: type[BaseResource], bulk_loader: BulkLoader | str | None = None
) -> None:
    """Make ``resource`` read (and export) files of ``kind``; ``bulk_loader``, when given, imports
    whole files of that kind instead of the resource (transactions): a callable, or its dotted
    path, imported on first use. Registering twice replaces."""
    _RESOURCES[kind] = resource
    if bulk_loader is not None:
        _BULK_LOADERS[kind] = bulk_loader


def resource_class_for(kind: str) -> type[BaseResource]:
    """The resource class that reads files of ``kind`` (an :class:`ImportKind` value).

    Raises:
        LookupError: no installed app registered ``kind``.
    """
    try:
        return _RESOURCES[kind]
    except KeyError:
        raise LookupError(f"kind: no app registered the import kind {kind!r}") from None


def bulk_loader_for(kind: str) -> BulkLoader | None:
    """The bulk loader registered for ``kind``, or ``None`` when the resource imports it.

    Raises:
        ImportError: a loader registered by dotted path cannot be imported.
    """
    loader = _BULK_LOADERS.get(kind)
    if isinstance(loader, str):
        loader = _BULK_LOADERS[kind] = import_string(loader)
    return loader


def bulk_import(
    *,
    kind: str,
    retailer: Retailer,
    path: str | Path,
    create_missing_customers: bool,
    progress: Any,
) -> dict[str, Any]:
    """Run the bulk loader of ``kind`` on the file at ``path``; returns its counts."""
    loader = bulk_loader_for(kind)
    if loader is None:
        raise LookupError(f"kind: no bulk loader registered for the import kind {kind!r}")
    result = loader(
        retailer=retailer,
        path=path,
        create_missing_customers=create_missing_customers,
        progress=progress,
    )
    return dict(result.as_dict())
