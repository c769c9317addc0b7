"""A real third-party WS-Discovery responder: the PyPI ``WSDiscovery`` publisher.

``wsd_publisher_peer.py IP`` publishes an ONVIF-style NetworkVideoTransmitter
with name/hardware/location/MAC scopes and an XAddr on IP, prints ``ready``,
and answers probes until killed.  Run it inside a test namespace with IPv6
disabled (its IPv6 thread crashes on the first probe otherwise, TESTBED.md).
"""

import sys
import time

from wsdiscovery import QName, Scope
from wsdiscovery.publishing import ThreadedWSPublishing

ip = sys.argv[1]
publisher = ThreadedWSPublishing()
publisher.start()
publisher.publishService(
    types=[QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")],
    scopes=[
        Scope("onvif://www.onvif.org/type/video_encoder"),
        Scope("onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I"),
        Scope("onvif://www.onvif.org/hardware/DS-2CD2143G0-I"),
        Scope("onvif://www.onvif.org/location/city/hangzhou"),
        Scope("onvif://www.onvif.org/MAC/c0:56:e3:00:00:01"),
    ],
    xAddrs=[f"http://{ip}:8899/onvif/device_service"],
)
print("ready", flush=True)
try:
    while True:
        time.sleep(1)
finally:
    publisher.stop()
