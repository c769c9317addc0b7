"""The asset inventory: SQLAlchemy models, a repository returning plain objects."""

from db.repository import DeviceRecord, Inventory, ScanRecord

__all__ = ["DeviceRecord", "Inventory", "ScanRecord"]
