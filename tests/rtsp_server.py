"""A local RTSP camera for the tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0 and python3-gi) serving a moving test pattern,
320x240 at 30 fps as RTP/JPEG, on rtsp://127.0.0.1:PORT/camera.

Usage: /usr/bin/python3 tests/rtsp_server.py PORT
Prints `ready` once it listens; runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
camera = GstRtspServer.RTSPMediaFactory()
camera.set_launch(
    "( videotestsrc is-live=true pattern=ball"
    " ! video/x-raw,format=I420,width=320,height=240,framerate=30/1"
    " ! jpegenc ! rtpjpegpay name=pay0 pt=26 )"
)
camera.set_shared(True)
server.get_mount_points().add_factory("/camera", camera)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on port {sys.argv[1]}")
print("ready", flush=True)
GLib.MainLoop().run()
