"""SMPP over TLS, as the provider's options ask: through a loopback TLS-terminating proxy (``SmscProxy``; CourrierSmsc
itself speaks plain SMPP) in front of an SMSC of this module's own, with certificates made here by ``cryptography``.

Verified against the CA file and the host name; refused when the CA is not trusted or the name differs; accepted
without verification only when told so; a client certificate presented to an SMSC that asks for one."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.config import Settings
from common.errors import UnreachableError
from processors.dispatch.provider import DeliveryReport, Submission
from processors.providers.registry import ProviderContext
from processors.providers.smpp.fake import SmscProxy
from processors.providers.smpp.plugin import KIND
from tests.processors.providers.smpp.harness import private_smsc

pytestmark = pytest.mark.integration


class Authority:
    """A throwaway CA and the certificates it signs, as PEM files in ``folder``."""

    def __init__(self, folder: Path, name: str = "Courrier test CA") -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (self._builder(subject, self.key.public_key()).issuer_name(subject)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.file = self._write(f"{name.replace(' ', '-')}.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool) -> tuple[Path, Path]:
        """A certificate for ``name`` (a server's: with its DNS and loopback IP names) and its key, as files."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key()).issuer_name(self.cert.subject)
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return self._write(f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM)), self._write(f"{name}.key", key_pem)

    @staticmethod
    def _builder(subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1)))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path


@pytest.fixture(scope="module")
def smsc() -> Iterator[Settings]:
    with private_smsc(Settings()) as settings:
        yield settings


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("smpp-tls"))


def server_context(authority: Authority, client_certificate: bool = False) -> ssl.SSLContext:
    cert, key = authority.issue("smsc.courrier.test", server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(authority.file)
    return context


@pytest.fixture
def tls_front(smsc: Settings, authority: Authority) -> Iterator[Callable[..., SmscProxy]]:
    proxies: list[SmscProxy] = []

    def start(client_certificate: bool = False) -> SmscProxy:
        proxies.append(SmscProxy("127.0.0.1", smsc.smpp_port, tls=server_context(authority, client_certificate)))
        proxies[-1].start()
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()


def provider(smsc: Settings, proxy: SmscProxy, reports: list[DeliveryReport] | None = None, **options: object):
    """The adapter the plugin builds for TLS options, bound to ``proxy``; its reports acknowledged and kept in ``reports``."""
    kept = reports if reports is not None else []

    def report(item: DeliveryReport) -> None:
        kept.append(item)
        if item.ack is not None:
            item.ack()

    context = ProviderContext("smpp:tls", {"host": "127.0.0.1", "port": proxy.port, "system_id": smsc.smpp_system_id, "tls": True,
                                           "bind_attempts": 1, "bind_timeout_s": 5, **options}, Settings(), report, report)
    return KIND.dispatch(context)


def sms() -> Submission:
    return Submission(str(uuid.uuid4()), "COURRIER", "ALPHANUMERIC", "+33612345678", "over TLS", "GSM7")


def test_a_bind_verified_against_the_ca_file_submits_and_gets_its_receipt(smsc: Settings, authority: Authority, tls_front) -> None:
    reports: list[DeliveryReport] = []
    adapter = provider(smsc, tls_front(), reports, tls_ca_file=str(authority.file), tls_server_name="smsc.courrier.test")
    adapter.open()
    try:
        (result,) = adapter.submit_many([sms()], timeout_s=10)
        deadline = time.monotonic() + 10
        while not any(r.provider_message_id in result.provider_message_ids for r in reports) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        adapter.close()
    assert result.accepted
    assert [r.raw_status for r in reports if r.provider_message_id in result.provider_message_ids] == ["DELIVRD"]


def test_the_ip_address_is_a_name_the_certificate_carries(smsc: Settings, authority: Authority, tls_front) -> None:
    adapter = provider(smsc, tls_front(), tls_ca_file=str(authority.file))  # verified against host 127.0.0.1
    adapter.open()
    adapter.close()


def test_an_untrusted_certificate_is_refused(smsc: Settings, tls_front) -> None:
    with pytest.raises(UnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
        provider(smsc, tls_front(), tls_server_name="smsc.courrier.test").open()  # the system's CAs do not know ours


def test_a_certificate_for_another_name_is_refused(smsc: Settings, authority: Authority, tls_front) -> None:
    with pytest.raises(UnreachableError, match="CERTIFICATE_VERIFY_FAILED"):
        provider(smsc, tls_front(), tls_ca_file=str(authority.file), tls_server_name="smsc.elsewhere.test").open()


def test_without_verification_any_certificate_will_do(smsc: Settings, tls_front) -> None:
    adapter = provider(smsc, tls_front(), tls_verify=False)
    adapter.open()
    try:
        (result,) = adapter.submit_many([sms()], timeout_s=10)
    finally:
        adapter.close()
    assert result.accepted


def test_a_client_certificate_is_presented_when_the_smsc_asks(smsc: Settings, authority: Authority, tls_front) -> None:
    front = tls_front(client_certificate=True)
    common = {"tls_ca_file": str(authority.file), "tls_server_name": "smsc.courrier.test"}
    with pytest.raises(UnreachableError):
        provider(smsc, front, **common).open()
    cert, key = authority.issue("courrier-esme", server=False)
    adapter = provider(smsc, front, **common, tls_cert_file=str(cert), tls_key_file=str(key))
    adapter.open()
    try:
        (result,) = adapter.submit_many([sms()], timeout_s=10)
    finally:
        adapter.close()
    assert result.accepted
