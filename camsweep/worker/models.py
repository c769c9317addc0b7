"""The worker's table (a scan's chunks and their state) lives with the rest of the schema
in ``db.models``.  ``(scan_id, idx)`` is unique, and a chunk's switch to ``done`` is
written in the same transaction as its observations: that row is what makes a
redelivered chunk a no-op."""

from db.models import DONE, FAILED, PENDING, RUNNING, TERMINAL, ScanChunk

__all__ = ["DONE", "FAILED", "PENDING", "RUNNING", "TERMINAL", "ScanChunk"]
