"""The parameter registry: every parameter declared once, and the thread-safe store of their values."""

from __future__ import annotations

from performer.params.registry import REGISTRY, Registry
from performer.params.spec import GROUPS, PARAM_TYPES, Param
from performer.params.store import Change, ParamStore, Snapshot
from performer.params.table import PARAMS

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
