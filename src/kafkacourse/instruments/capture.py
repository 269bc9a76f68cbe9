"""What crosses the wire: a real packet capture (tcpdump) of one TCP port on loopback, searched for bytes.

Day 5 shows that TLS hides a record from anyone who can read the network and PLAINTEXT does not, by capturing
the same record on both listeners and searching the captured TCP payloads for it:

>>> from kafkacourse.instruments.capture import Capture
>>> with Capture(9092) as wire:                      # tcpdump -i lo 'tcp port 9092', until the block ends
...     cluster.produce(topic, ["card=4111-1111-1111-1111"])
>>> wire.count(b"4111-1111-1111-1111")               # {'to_port': 1, 'from_port': 0}
>>> wire.segments()                                  # one row per TCP segment with a payload: time, ports, bytes

The capture is Debian's ``tcpdump`` (``./course`` installs it when run as root; ``apt-get install tcpdump``),
which needs root or the capabilities CAP_NET_RAW and CAP_NET_ADMIN. The pcap file it writes is parsed with
``dpkt`` (Ethernet on ``lo``, IPv4 and IPv6) and deleted; the segments stay in memory. The course does not
reassemble TCP streams beyond concatenating one direction's payloads in capture order, which is enough on
loopback (no loss, no reordering) to find a record that spans segments.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

INSTALL_HINT = ("install it: run `./course` as root (it installs Debian's tcpdump), or "
                "`sudo apt-get install --no-install-recommends tcpdump` (elsewhere: the OS's tcpdump package)")
PRIVILEGE_HINT = ("capturing needs root, or tcpdump with the capabilities: "
                  "`sudo setcap cap_net_raw,cap_net_admin=eip $(command -v tcpdump)`")


# The kernel's capture buffer for tcpdump (-B, KiB): large, so that a loaded machine descheduling tcpdump for a
# while does not make the kernel drop packets before tcpdump reads them (`dropped` counts any it did drop).
BUFFER_KIB = 16384
_DROPPED = re.compile(r"(\d+) packets? dropped by kernel")


class CaptureError(RuntimeError):
    """tcpdump is missing, may not capture, or stopped early; the message says why and what to do."""


def tcpdump() -> str:
    """The tcpdump binary (on PATH, or Debian's /usr/bin, /usr/sbin), or a CaptureError that says how to install it."""
    found = shutil.which("tcpdump") or next((p for p in ("/usr/bin/tcpdump", "/usr/sbin/tcpdump")
                                             if os.access(p, os.X_OK)), None)
    if not found:
        raise CaptureError(f"tcpdump is not installed (Day 5 captures a listener's traffic with it): {INSTALL_HINT}")
    return found


def version() -> str:
    """tcpdump's version line (``tcpdump version 4.99.3``); CaptureError when it is missing."""
    out = subprocess.run([tcpdump(), "--version"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).splitlines()[0].strip()


class Capture:
    """tcpdump on `interface` (loopback) for TCP `port`, from :meth:`start` (or ``with``) to :meth:`stop`.

    Every packet is captured whole (``-s 0``) and handed over at once (``--immediate-mode``); :meth:`stop` waits
    until tcpdump has written every packet sent before it was called. Then
    :meth:`segments`, :meth:`stream`, :meth:`count` and :meth:`contains` read what was captured.
    "to_port" is the direction towards `port` (client → broker), "from_port" the way back.
    """

    def __init__(self, port: int, interface: str = "lo") -> None:
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port is a TCP port number (1–65535), not {port!r}")
        self.port, self.interface = port, interface
        self._process: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._marker: socket.socket | None = None
        self._stderr: list[str] = []
        self._segments: list[tuple[float, int, int, bytes]] | None = None
        self.dropped: int | None = None  # packets the kernel dropped before tcpdump read them (after stop())

    # -- start and stop ----------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Capture:
        """Start tcpdump and return once it is listening (CaptureError with tcpdump's own words otherwise)."""
        if self._process is not None:
            raise CaptureError("this capture is already running; stop() it first")
        self._folder = Path(tempfile.mkdtemp(prefix="kafkacourse-capture-"))
        self._marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # see stop()
        self._marker.bind(("127.0.0.1", 0))
        command = [tcpdump(), "-i", self.interface, "-n", "-U", "-s", "0", "--immediate-mode", "-B", str(BUFFER_KIB),
                   "-w", str(self._folder / "capture.pcap")]
        if os.geteuid() == 0:
            command += ["-Z", "root"]  # Debian's tcpdump drops to the user tcpdump, who may not write the file
        marker = self._marker.getsockname()[1]
        command += [f"(tcp port {self.port}) or (udp and host 127.0.0.1 and dst port {marker})"]
        self._stderr, self._segments = [], None
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True, start_new_session=True)
        listening = threading.Event()

        def read_stderr(stream) -> None:
            for line in stream:
                self._stderr.append(line.rstrip())
                if "listening on" in line:
                    listening.set()

        self._reader = threading.Thread(target=read_stderr, args=(self._process.stderr,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not listening.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._kill()
                said = " ".join(self._stderr[-3:]) or "nothing"
                hint = PRIVILEGE_HINT if "permission" in said.lower() or "not permitted" in said.lower() else \
                    f"check the interface name (`{tcpdump()} -D` lists them)"
                raise CaptureError(f"tcpdump did not start capturing on {self.interface} port {self.port} "
                                   f"within {timeout:.0f} s; it said: {said}. {hint}")
        return self

    def stop(self, timeout: float = 15.0) -> Capture:
        """Make sure tcpdump has written everything sent so far, stop it (SIGINT: it flushes its file), read the
        capture into memory and delete the file. Idempotent.

        "Everything so far": a UDP datagram with a random token is sent to this capture's own marker port on
        loopback; tcpdump writes packets in the order it receives them, so once the token is in the file, every
        segment sent before it is too (no fixed sleep, and no connection to the broker)."""
        if self._process is None:
            return self
        path = self._folder / "capture.pcap"
        token = os.urandom(16)
        deadline = time.monotonic() + timeout
        try:
            while not (path.exists() and token in path.read_bytes()):
                if self._process.poll() is not None or time.monotonic() > deadline:
                    said = " ".join(self._stderr[-3:]) or "nothing"
                    raise CaptureError(f"tcpdump did not write its marker packet within {timeout:.0f} s "
                                       f"(it said: {said}); the capture may be incomplete")
                self._marker.sendto(token, self._marker.getsockname())
                time.sleep(0.05)
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
            self._reader.join(5)  # tcpdump's last lines: its packet counts
            said = _DROPPED.search(" ".join(self._stderr))
            self.dropped = int(said.group(1)) if said else 0
            self._segments = list(_read_pcap(path.read_bytes()))
        finally:
            self._kill()
        return self

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self._process = None
        if self._marker is not None:
            self._marker.close()
            self._marker = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            self.stop()
        else:
            self._kill()

    # -- what was captured -------------------------------------------------------------------------------------
    def _captured(self) -> list[tuple[float, int, int, bytes]]:
        if self._segments is None:
            raise CaptureError("nothing captured yet: start() the capture, run the clients, then stop() it "
                               "(or use `with Capture(port) as wire:`)")
        return self._segments

    def segments(self) -> pd.DataFrame:
        """One row per captured TCP segment with a payload: t (s since the first), direction, src and dst port,
        bytes (payload length), payload."""
        rows = self._captured()
        t0 = rows[0][0] if rows else 0.0
        return pd.DataFrame([{"t": ts - t0, "direction": self._direction(dport), "src": sport, "dst": dport,
                              "bytes": len(data), "payload": data} for ts, sport, dport, data in rows],
                            columns=["t", "direction", "src", "dst", "bytes", "payload"])

    def _direction(self, dport: int) -> str:
        return "to_port" if dport == self.port else "from_port"

    def stream(self, direction: str = "to_port") -> bytes:
        """Every payload byte in one direction ("to_port" or "from_port"), in capture order."""
        if direction not in ("to_port", "from_port"):
            raise ValueError(f"direction is 'to_port' or 'from_port', not {direction!r}")
        return b"".join(data for _, _, dport, data in self._captured() if self._direction(dport) == direction)

    def count(self, needle: bytes | str) -> dict[str, int]:
        """How often `needle` occurs in each direction's payload bytes: ``{'to_port': n, 'from_port': m}``."""
        needle = needle.encode() if isinstance(needle, str) else needle
        if not needle:
            raise ValueError("search for at least one byte")
        return {direction: self.stream(direction).count(needle) for direction in ("to_port", "from_port")}

    def contains(self, needle: bytes | str) -> bool:
        """Whether `needle` was seen in either direction."""
        return sum(self.count(needle).values()) > 0

    def connections(self) -> dict[int, dict[str, bytes]]:
        """Each TCP connection's payload bytes, by the client's (ephemeral) port: ``{port: {'to_port': …,
        'from_port': …}}``, in the order the connections first sent something."""
        out: dict[int, dict[str, bytes]] = {}
        for _, sport, dport, data in self._captured():
            direction = self._direction(dport)
            client = sport if direction == "to_port" else dport
            flows = out.setdefault(client, {"to_port": b"", "from_port": b""})
            flows[direction] += data
        return out

    def kafka_requests(self) -> pd.DataFrame:
        """The Kafka requests clients sent, read from the plaintext bytes as any observer could: per request the
        connection (client port), API name and key, version, correlation id, client.id, size. Bytes that are not
        Kafka's framing (TLS) give no rows."""
        rows = []
        for client, flows in self.connections().items():
            rows += [{"connection": client, **request} for request in _kafka_requests(flows["to_port"])]
        return pd.DataFrame(rows, columns=["connection", "api", "api_key", "version", "correlation_id",
                                           "client_id", "bytes"])

    def tls_records(self) -> pd.DataFrame:
        """The TLS records of every connection, by their 5-byte headers (the only part TLS leaves readable):
        connection, direction, content type (handshake, application_data, …), version bytes, length. Bytes that
        are not TLS give no rows."""
        rows = []
        for client, flows in self.connections().items():
            for direction, data in flows.items():
                rows += [{"connection": client, "direction": direction, **record} for record in _tls_records(data)]
        return pd.DataFrame(rows, columns=["connection", "direction", "type", "version", "length"])

    def summary(self) -> dict[str, int]:
        """Segments and payload bytes per direction (what an observer learns without reading a byte)."""
        table = self.segments()
        out = {}
        for direction in ("to_port", "from_port"):
            part = table[table.direction == direction]
            out[f"segments {direction}"] = len(part)
            out[f"bytes {direction}"] = int(part["bytes"].sum())
        return out


def _read_pcap(data: bytes) -> Iterable[tuple[float, int, int, bytes]]:
    """(timestamp, source port, destination port, payload) of each TCP segment with a payload in a pcap file
    captured on an Ethernet-framed interface (Linux's `lo`), IPv4 or IPv6. A segment seen twice (a TCP
    retransmission, or the same packet captured twice) is kept once: same addresses, ports, sequence number."""
    import io

    import dpkt

    seen: set[tuple] = set()
    for ts, frame in dpkt.pcap.Reader(io.BytesIO(data)):
        ip = dpkt.ethernet.Ethernet(frame).data
        tcp = getattr(ip, "data", None)
        if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(tcp, dpkt.tcp.TCP) and tcp.data:
            segment = (ip.src, ip.dst, tcp.sport, tcp.dport, tcp.seq, len(tcp.data))
            if segment not in seen:
                seen.add(segment)
                yield float(ts), tcp.sport, tcp.dport, bytes(tcp.data)


# Kafka's request API keys (the ones a producer, a consumer and a login send), for kafka_requests().
API_KEYS = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
            10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
            17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics", 22: "InitProducerId",
            32: "DescribeConfigs", 36: "SaslAuthenticate", 60: "DescribeCluster", 68: "ConsumerGroupHeartbeat"}
TLS_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


def _kafka_requests(data: bytes) -> Iterable[dict]:
    """Walk Kafka's request framing (int32 size, then int16 api key, int16 version, int32 correlation id, int16
    client.id length, client.id); stop at the first thing that is not a Kafka request."""
    import struct

    at = 0
    while at + 14 <= len(data):
        size, key, version, correlation, id_length = struct.unpack_from(">ihhih", data, at)
        if key not in API_KEYS or not 10 <= size <= len(data) - at - 4 or not -1 <= id_length <= size - 10:
            return
        client_id = data[at + 14:at + 14 + max(id_length, 0)].decode("utf-8", "replace")
        yield {"api": API_KEYS[key], "api_key": key, "version": version, "correlation_id": correlation,
               "client_id": client_id, "bytes": size + 4}
        at += 4 + size


def _tls_records(data: bytes) -> Iterable[dict]:
    """Walk TLS's record framing (type, version, int16 length); stop at the first thing that is not TLS."""
    at = 0
    while at + 5 <= len(data):
        kind, major, minor, length = data[at], data[at + 1], data[at + 2], int.from_bytes(data[at + 3:at + 5], "big")
        if kind not in TLS_TYPES or major != 3 or at + 5 + length > len(data):
            return
        yield {"type": TLS_TYPES[kind], "version": f"{major}.{minor}", "length": length}
        at += 5 + length
