"""The parameter registry: every parameter declared once, and the thread-safe store of their values."""

from __future__ import annotations

from performer.params.registry import (
    GROUPS,
    PARAM_TYPES,
    PARAMS,
    REGISTRY,
    Change,
    Param,
    ParamStore,
    Registry,
    Snapshot,
)

__all__ = [
    "GROUPS",
    "PARAM_TYPES",
    "PARAMS",
    "REGISTRY",
    "Change",
    "Param",
    "ParamStore",
    "Registry",
    "Snapshot",
]
