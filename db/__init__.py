"""The asset inventory: SQLAlchemy models, Alembic migrations, a repository returning plain objects."""

from db.records import (
    AuditEntry,
    DeviceChange,
    DeviceDetail,
    DeviceFilter,
    DeviceRecord,
    EventRecord,
    ReidentifyChange,
    ScanDiff,
    ScanRecord,
    SightingRecord,
    StandaloneUnit,
)
from db.repository import Inventory
from db.writer import ScanWriter

__all__ = [
    "AuditEntry",
    "DeviceChange",
    "DeviceDetail",
    "DeviceFilter",
    "DeviceRecord",
    "EventRecord",
    "Inventory",
    "ReidentifyChange",
    "ScanDiff",
    "ScanRecord",
    "ScanWriter",
    "SightingRecord",
    "StandaloneUnit",
]
