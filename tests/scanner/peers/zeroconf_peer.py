"""A real mDNS publisher: python-zeroconf registering an Axis-style camera service.

``zeroconf_peer.py IP`` registers ``_axis-video._tcp`` (TXT ``macaddress=...``, as
Axis cameras announce, fingerprint-facts C.0) on the interface with IP, prints
``ready`` and serves until killed.  Runs inside a test namespace only.
"""

import socket
import sys
import time

from zeroconf import IPVersion, ServiceInfo, Zeroconf

ip = sys.argv[1]
zc = Zeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
info = ServiceInfo(
    "_axis-video._tcp.local.",
    "AXIS M3045-V - ACCC8E000001._axis-video._tcp.local.",
    addresses=[socket.inet_aton(ip)],
    port=80,
    properties={"macaddress": "ACCC8E000001"},
    server="axis-accc8e000001.local.",
)
zc.register_service(info)
print("ready", flush=True)
try:
    while True:
        time.sleep(1)
finally:
    zc.unregister_service(info)
    zc.close()
