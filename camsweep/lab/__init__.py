"""The camera lab: an emulated fleet of real-world camera personalities.

Used by ``camsweep demo``, ``camsweep lab``, the tests and the benchmarks.
Everything it serves stays on loopback (127.0.0.0/8) or inside network
namespaces it creates itself.
"""

from camsweep.lab.control import LabProcess
from camsweep.lab.fleet import DeviceSpec, Fleet, load_fleet
from camsweep.lab.runner import Lab

__all__ = ["DeviceSpec", "Fleet", "Lab", "LabProcess", "load_fleet"]
