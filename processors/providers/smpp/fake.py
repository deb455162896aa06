"""A front for an SMSC, for tests: relays SMPP between an ESME and an SMSC on 127.0.0.1, terminating TLS if asked,
and plays one fault on the next bind or submit_sm without touching the SMSC's own settings.

Faults, each for the next one only: ``fail_next_submit(status)`` answers the next submit_sm itself with that
command_status (the SMSC never sees it); ``fail_next_submit(LOST)`` passes it on and, when the SMSC's answer comes,
drops it and closes the connection (the SMSC has the message; the ESME never learns it); ``refuse_next_bind(status)``
answers the next bind with that status. ``drop()`` closes every relayed connection, as a network cut would.

It runs an asyncio loop on a thread of its own: asyncio's TLS keeps each connection's SSL object on one thread.
"""
from __future__ import annotations

import asyncio
import ssl
import threading
from contextlib import suppress

from processors.providers.smpp import pdu

LOST = "lost"
BINDS = frozenset({pdu.BIND_TRANSCEIVER, pdu.BIND_TRANSMITTER, 0x00000001})  # 0x01: bind_receiver


async def _read(reader: asyncio.StreamReader) -> pdu.Pdu:
    header = await reader.readexactly(pdu.HEADER_SIZE)
    length, command_id, status, sequence = pdu.HEADER.unpack(header)
    return pdu.Pdu(command_id, status, sequence, await reader.readexactly(length - pdu.HEADER_SIZE))


def _raw(p: pdu.Pdu) -> bytes:
    return pdu.frame(p.command_id, p.sequence, p.body, p.status)


class SmscProxy:
    """Listens on 127.0.0.1 (an OS-chosen ``port``) and relays each connection to ``upstream``; ``tls``: a server-side
    context, so ESMEs connect with TLS while the SMSC behind sees plain SMPP."""

    def __init__(self, upstream_host: str, upstream_port: int, tls: ssl.SSLContext | None = None) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._tls = tls
        self._lock = threading.Lock()
        self._submit_fault: int | str | None = None
        self._bind_fault: int | None = None
        self.binds_refused = self.submits_failed = self.answers_lost = self.connections = 0
        self.submits: list[int] = []  # submit_sm relayed, per connection in the order they came
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smsc-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def __enter__(self) -> SmscProxy:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def stop(self) -> None:
        """Stop listening and close every relayed connection; a second call does nothing."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def fail_next_submit(self, fault: int | str) -> None:
        """The next submit_sm: answered here with command_status ``fault``, or (``LOST``) passed on and its answer lost."""
        with self._lock:
            self._submit_fault = fault

    def refuse_next_bind(self, status: int) -> None:
        with self._lock:
            self._bind_fault = status

    def drop(self) -> None:
        """Close every relayed connection now (the SMSC sees its sessions end without an unbind)."""
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(10)

    # The loop's side ----------------------------------------------------------------------------------------

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self._tls)
        return self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop()

    async def _drop(self) -> None:
        for writer in list(self._writers):
            writer.close()

    def _take_submit_fault(self) -> int | str | None:
        with self._lock:
            fault, self._submit_fault = self._submit_fault, None
            return fault

    def _take_bind_fault(self) -> int | None:
        with self._lock:
            fault, self._bind_fault = self._bind_fault, None
            return fault

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = self.connections
        self.connections += 1
        self.submits.append(0)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        lost: set[int] = set()
        pumps = [asyncio.ensure_future(self._up(reader, writer, up_writer, lost, connection)),
                 asyncio.ensure_future(self._down(up_reader, writer, lost))]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for end in (writer, up_writer):
                self._writers.discard(end)
                end.close()

    async def _up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up_writer: asyncio.StreamWriter,
                  lost: set[int], connection: int) -> None:
        """ESME → SMSC, with the faults armed for binds and submits."""
        with suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            while True:
                p = await _read(reader)
                if p.command_id in BINDS and (refusal := self._take_bind_fault()) is not None:
                    self.binds_refused += 1
                    writer.write(pdu.frame(p.command_id | pdu.RESPONSE, p.sequence, b"\0", refusal))
                    await writer.drain()
                    return
                if p.command_id == pdu.SUBMIT_SM and (fault := self._take_submit_fault()) is not None:
                    if fault == LOST:
                        lost.add(p.sequence)
                    else:
                        self.submits_failed += 1
                        writer.write(pdu.frame(pdu.SUBMIT_SM_RESP, p.sequence, b"", int(fault)))
                        await writer.drain()
                        continue
                if p.command_id == pdu.SUBMIT_SM:
                    self.submits[connection] += 1
                up_writer.write(_raw(p))
                await up_writer.drain()

    async def _down(self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lost: set[int]) -> None:
        """SMSC → ESME; the answer to a submit whose answer is to be lost ends the connection instead."""
        with suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            while True:
                p = await _read(up_reader)
                if p.command_id == pdu.SUBMIT_SM_RESP and p.sequence in lost:
                    self.answers_lost += 1
                    return
                writer.write(_raw(p))
                await writer.drain()
