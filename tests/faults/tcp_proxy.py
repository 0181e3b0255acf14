"""A TCP proxy on loopback that a fault test can sever: between a relay and the broker.

`hold()` stops passing the broker's bytes back to the client (publisher confirms never arrive) while the
client's bytes still reach the broker; `sever()` then closes every open connection at once. New connections
are accepted again right away, so the relay can reconnect through the same address.
"""
from __future__ import annotations

import socket
import threading


class SeverableProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((listen_host, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.held = threading.Event()
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.accepted = 0
        self.severed = 0
        self.swallowed_bytes = 0  # broker-to-client bytes dropped while held
        self.closing = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_broker: bool):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_broker and self.held.is_set():
                    self.swallowed_bytes += len(data)
                    continue  # swallowed: the client never hears the confirm
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def hold(self):
        self.held.set()

    def sever(self) -> int:
        """Close every live connection (both ends); returns how many were cut. Traffic flows again afterwards."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self.severed += len(pairs)
        self.held.clear()
        return len(pairs)

    def close(self):
        self.closing = True
        self.listener.close()
        self.sever()
