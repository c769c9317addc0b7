"""A real third-party RTSP server for the tests: GStreamer's gst-rtsp-server.

Run by Debian's /usr/bin/python3 (python3-gi + gir1.2-gst-rtsp-server-1.0), as a
separate process: ``gst_rtsp_peer.py ADDRESS`` prints the bound port, then serves
a live test pattern at ``/`` (so DESCRIBE of the root URL returns SDP) until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address(sys.argv[1])
server.set_service(sys.argv[2] if len(sys.argv) > 2 else "0")
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch("( videotestsrc is-live=1 ! video/x-raw,width=64,height=48 ! rtpvrawpay name=pay0 pt=96 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/", factory)
server.attach(None)
print(server.get_bound_port(), flush=True)
GLib.MainLoop().run()
