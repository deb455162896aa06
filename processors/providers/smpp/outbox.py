"""What one bind has to write: bytes any thread may queue, written by the bind's own thread only, and the pipe that
wakes that thread's selector.

One buffer is handed to ``send`` at a time and kept until written (TLS must be given the very same buffer again after
a want-write; plain TCP goes on from the octets written). When a session ends, ``close`` says which submit_sm never
reached the socket: those cannot be at the SMSC.
"""
from __future__ import annotations

import socket
import ssl
import threading

from processors.providers.smpp import pdu
from processors.providers.smpp.session import close_quietly

WANT = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class Outbox:
    """The queue of one bind's socket across its sessions; ``tls``: its sessions are wrapped in TLS."""

    def __init__(self, tls: bool) -> None:
        self._tls = tls
        # Guarded by _lock: bytes queued, and the session generation they may go out on (None: no session).
        self._lock = threading.Lock()
        self._queued = bytearray()
        self._generation: int | None = None
        # The writing thread's own: the buffer ``send`` is working through, how much of it left, whether TLS tried it.
        self._chunk: bytes | None = None
        self._written = 0
        self._tried = False
        self.wake_socket, self._wake_w = socket.socketpair()
        self.wake_socket.setblocking(False)
        self._wake_w.setblocking(False)

    def open(self, generation: int) -> None:
        """A session began: queue for it from now on."""
        with self._lock:
            self._queued.clear()
            self._generation = generation
        self._chunk = None

    def put(self, data: bytes, generation: int, wake: bool) -> bool:
        """Queue ``data`` (whole PDUs) for session ``generation``; False when that session is over. ``wake``: the
        writing thread is another one (it is woken when the queue was empty)."""
        with self._lock:
            if self._generation != generation:
                return False
            was_empty = not self._queued
            self._queued += data
        if wake and was_empty:
            self.wake()
        return True

    def flush(self, sock: socket.socket) -> bool:
        """Write what is queued, one buffer per ``send``; True while some of it is still to go (the socket is full)."""
        while True:
            if self._chunk is None:
                with self._lock:
                    if not self._queued:
                        return False
                    self._chunk, self._queued = bytes(self._queued), bytearray()
                self._written, self._tried = 0, False
            try:
                sent = sock.send(self._chunk if self._tls else memoryview(self._chunk)[self._written:])
            except WANT:
                self._tried = True
                return True
            self._written += sent
            if self._written >= len(self._chunk):
                self._chunk = None

    def flush_before_close(self, sock: socket.socket) -> None:
        """Best effort, briefly blocking: the unbind_resp (or deliver_sm_resp) queued last should reach the SMSC."""
        try:
            sock.settimeout(1.0)
            if self._chunk is not None:
                sock.sendall(self._chunk if self._tls else self._chunk[self._written:])
                self._chunk = None
            with self._lock:
                rest, self._queued = bytes(self._queued), bytearray()
            if rest:
                sock.sendall(rest)
        except OSError:
            pass

    def close(self) -> list[int]:
        """The session is over: nothing more is queued for it; returns the submit_sm sequences that never left."""
        with self._lock:
            self._generation = None
            queued, self._queued = bytes(self._queued), bytearray()
        withdrawn = pdu.submit_sequences(queued)
        if self._chunk is not None and not (self._tls and self._tried):
            withdrawn = pdu.submit_sequences(self._chunk, self._written) + withdrawn
        self._chunk = None
        return withdrawn

    def wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (a wake is already pending) or closed (the link is over)
            pass

    def drain_wake(self) -> None:
        try:
            while self.wake_socket.recv(4096):
                pass
        except OSError:
            pass

    def dispose(self) -> None:
        """Close the wake-up pipe (the link's thread has ended)."""
        close_quietly(self.wake_socket)
        close_quietly(self._wake_w)
