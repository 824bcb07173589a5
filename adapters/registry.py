"""Finding and loading adapters registered under the entry-point group ``huzhu.adapters``.

A bank ships its own format as a package declaring, in its ``pyproject.toml``::

    [project.entry-points."huzhu.adapters"]
    mybank = "mybank_adapter:MyBankAdapter"

and its ``config/banks/CODE.toml`` names it in ``[adapter] name = "mybank"``. Nothing is
cached here: each call reads the installed distributions afresh, and the caller keeps the
adapters it loaded.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from adapters.base import Adapter, AdapterOptions
from adapters.errors import AdapterError, AdapterLoadError, AdapterNotFoundError

GROUP = "huzhu.adapters"


def installed_adapters() -> dict[str, EntryPoint]:
    """The registered adapters by name; a name registered twice differently is an error."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        known = found.get(entry.name)
        if known is not None and known.value != entry.value:
            raise AdapterLoadError(
                f"adapter {entry.name!r} is registered twice, as {known.value!r} and "
                f"{entry.value!r}; uninstall one of the packages"
            )
        found[entry.name] = entry
    return found


def adapter_class(name: str) -> type[Adapter]:
    """Import the class registered under ``name``."""
    adapters = installed_adapters()
    entry = adapters.get(name)
    if entry is None:
        listed = ", ".join(sorted(adapters)) or "none"
        raise AdapterNotFoundError(
            f"no adapter named {name!r} is installed (installed: {listed}); install the "
            f"bank's package or fix [adapter] name"
        )
    try:
        loaded = entry.load()
    except Exception as exc:
        raise AdapterLoadError(
            f"adapter {name!r} ({entry.value}) failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
        raise AdapterLoadError(
            f"adapter {name!r} ({entry.value}) is not a subclass of adapters.base.Adapter"
        )
    if getattr(loaded, "__abstractmethods__", None):
        missing = ", ".join(sorted(loaded.__abstractmethods__))
        raise AdapterLoadError(f"adapter {name!r} ({entry.value}) does not implement: {missing}")
    return loaded


def load_adapter(name: str, options: AdapterOptions, *, config_dir: Path) -> Adapter:
    """Build the adapter registered under ``name`` from a bank's ``[adapter]`` options.

    Raises ``AdapterNotFoundError`` for an unknown name and ``AdapterLoadError`` (or the
    adapter's own ``AdapterError``, e.g. a bad layout) when it cannot be built.
    """
    cls = adapter_class(name)
    try:
        adapter = cls.from_options(options, config_dir=config_dir)
    except AdapterError:
        raise
    except Exception as exc:
        raise AdapterLoadError(
            f"adapter {name!r} refused its options: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(adapter, Adapter):
        raise AdapterLoadError(f"adapter {name!r}: from_options did not return an adapter")
    return adapter
