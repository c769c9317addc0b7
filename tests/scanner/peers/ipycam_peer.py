"""A real virtual ONVIF camera: PyPI ``ipycam``'s ONVIF device service and WS-Discovery.

``ipycam_peer.py IP PORT [USER PASSWORD]`` serves ipycam's own HTTP handler
(ONVIF SOAP with WS-Security UsernameToken checking when a user is set) and
its WS-Discovery responder, without the video pipeline (which needs a capture
device and go2rtc, not available here).  Prints ``ready``; runs until killed.
"""

import sys
import threading
import time

from ipycam.config import CameraConfig
from ipycam.discovery import WSDiscoveryServer
from ipycam.http import IPCameraHTTPHandler
from ipycam.onvif import ONVIFService

ip, port = sys.argv[1], int(sys.argv[2])
user, password = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("", "")
config = CameraConfig(
    name="Lobby",
    manufacturer="IPyCamTest",
    model="VirtualCam-9",
    serial_number="IPY-0042",
    local_ip=ip,
    onvif_port=port,
    username=user,
    password=password,
)


class Camera:
    """The two attributes ipycam's HTTP handler uses for ONVIF."""

    def __init__(self) -> None:
        self.config = config
        self.onvif = ONVIFService(config)


camera = Camera()
IPCameraHTTPHandler.camera = camera  # type: ignore[assignment]
from ipycam.camera import ReusableThreadingTCPServer  # noqa: E402

server = ReusableThreadingTCPServer((ip, port), IPCameraHTTPHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
discovery = None
if len(sys.argv) > 5 and sys.argv[5] == "wsd":
    discovery = WSDiscoveryServer(camera.onvif)
    discovery.start()
print(f"ready {server.server_address[1]}", flush=True)
while True:
    time.sleep(1)
