"""The audit's tables (sealed chain links) live with the rest of the schema in ``db.models``."""

from db.models import ObservationSeal, ScanSeal

__all__ = ["ObservationSeal", "ScanSeal"]
