"""camsweep: find the cameras on your networks, say who really made them, keep an inventory."""

__version__ = "0.1.0"
