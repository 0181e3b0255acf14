"""Event contracts: one marshmallow schema per (event type, schema version), in one shared place.

Nothing personal travels: no national ID, no name, no free text, no organisation number. A candidate travels
as the office's keyed hash; the registry re-keys it. Each family lives in its own module and registers here.
"""
from __future__ import annotations

_REGISTRY: dict[tuple[str, int], type] = {}


def register(event_type: str, version: int = 1):
    def decorator(schema_cls):
        key = (event_type, version)
        if key in _REGISTRY:
            raise RuntimeError(f"event schema {key} registered twice")
        _REGISTRY[key] = schema_cls
        return schema_cls
    return decorator


def schema_for(event_type: str, version: int):
    return _REGISTRY.get((event_type, version))


def registered_types():
    return sorted(_REGISTRY)


from . import case, consent, test  # noqa: E402,F401  (registration side effects)
