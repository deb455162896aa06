"""SMPP as a provider kind: SMS through one SMSC account, over one or more binds, TLS if asked.

Options (``[providers.<name>]``, else ``COURRIER_SMPP_*``, else the older ``Settings`` fields) are ``SmppSettings``'
fields; the password is referenced (``password_env`` or ``password_file``), never written in the file. SMPP has no
webhook: delivery receipts and inbound messages come back over the bind itself, to the adapter's callbacks.
"""
from __future__ import annotations

import time

from pydantic import ValidationError

from processors.providers.registry import ProviderContext, ProviderKind
from processors.providers.smpp import pdu
from processors.providers.smpp.adapter import SmppProvider
from processors.providers.smpp.errors import ESME_RX_T_APPN, status_name
from processors.providers.smpp.session import BindRefused, Peer, Sequences, Session, close_quietly, open_session
from processors.providers.smpp.settings import SmppConfigError, SmppSettings

CHANNELS = frozenset({"SMS"})
HEALTH_TIMEOUT_S = 3.0


def smpp_settings(context: ProviderContext) -> SmppSettings:
    """The instance's settings; ``SmppConfigError`` naming the first option that does not validate (never its value)."""
    try:
        return SmppSettings.of(dict(context.options), context.settings)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SmppConfigError(f"SMPP provider {context.name}: option {where}: {first['msg']}") from None


def provider(settings: SmppSettings, context: ProviderContext) -> SmppProvider:
    """An adapter for ``settings``, named after the configured instance, not yet opened."""
    return SmppProvider(settings.host, settings.port, settings.system_id, settings.password_value(), window=settings.window,
                        on_report=context.on_report, on_inbound=context.on_inbound, name=context.name,
                        binds=settings.bind_plans(), tls=settings.tls_context(), server_name=settings.tls_server_name,
                        system_type=settings.system_type, enquire_link_s=settings.enquire_link_s,
                        bind_timeout_s=settings.bind_timeout_s, bind_attempts=settings.bind_attempts,
                        decimal_receipt_ids=settings.decimal_receipt_ids, throttle_resends=settings.throttle_resends)


def _dispatch(context: ProviderContext) -> SmppProvider:
    return provider(smpp_settings(context), context)


def _check(context: ProviderContext) -> None:
    """Everything a bind needs, read now: a system_id, the password, the TLS files, the binds' shape."""
    settings = smpp_settings(context)
    if not settings.system_id.strip():
        raise SmppConfigError("COURRIER_SMPP_SYSTEM_ID (system_id) is not set: the SMSC account's system_id is required")
    settings.password_value()
    settings.tls_context()
    settings.bind_plans()


def _health(context: ProviderContext) -> str:
    """One bind and its unbind at once (``_unbind``): says whether the SMSC answers and takes the credentials."""
    try:
        settings = smpp_settings(context)
        password = settings.password_value()
        tls = settings.tls_context()
    except SmppConfigError as missing:
        return f"credentials missing: {str(missing).split()[0]}"
    peer = Peer(settings.host, settings.port, settings.system_id, password, settings.system_type, tls, settings.tls_server_name)
    sequences = Sequences()
    try:
        session = open_session(peer, HEALTH_TIMEOUT_S, sequences)
    except BindRefused as refused:
        return f"bind refused ({status_name(refused.status)})"
    except OSError as exc:
        return f"unreachable: {type(exc).__name__}"
    try:
        _unbind(session, sequences)
    except OSError:
        pass
    finally:
        close_quietly(session.sock)
    return "reachable"


def _unbind(session: Session, sequences: Sequences) -> None:
    """Unbind and wait briefly for unbind_resp; a deliver_sm the SMSC sends meanwhile is refused for now
    (ESME_RX_T_APPN), so it stays with the SMSC for the provider's own binds."""
    sock = session.sock
    sock.settimeout(HEALTH_TIMEOUT_S)
    unbind = sequences.next()
    sock.sendall(pdu.frame(pdu.UNBIND, unbind))
    pending, buffer = list(session.early), session.buffer
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        for p in pending:
            if p.command_id == pdu.UNBIND_RESP and p.sequence == unbind:
                return
            if p.command_id == pdu.DELIVER_SM:
                sock.sendall(pdu.response(pdu.DELIVER_SM_RESP, p.sequence, ESME_RX_T_APPN))
            elif p.command_id == pdu.ENQUIRE_LINK:
                sock.sendall(pdu.response(pdu.ENQUIRE_LINK_RESP, p.sequence))
        chunk = sock.recv(65536)
        if not chunk:
            return
        buffer += chunk
        pending = pdu.split(buffer)


KIND = ProviderKind(kind="smpp", channels=CHANNELS, dispatch=_dispatch, check=_check, health=_health, settings=SmppSettings)
