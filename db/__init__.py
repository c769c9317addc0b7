"""The asset inventory: SQLAlchemy models, a repository returning plain objects."""

from db.repository import AuditEntry, DeviceFilter, DeviceRecord, Inventory, ScanRecord

__all__ = ["AuditEntry", "DeviceFilter", "DeviceRecord", "Inventory", "ScanRecord"]
