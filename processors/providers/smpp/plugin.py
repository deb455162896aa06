"""SMPP as a provider kind: SMS to an SMSC over a bind, delivery reports and inbound messages over the same bind.

Options (``[providers.<name>]``): ``host``, ``port``, ``system_id``, ``window``, ``decimal_receipt_ids``; the bind
password is the settings' (``COURRIER_SMPP_PASSWORD`` or its ``_FILE``). Unset options fall back to the settings'
``COURRIER_SMPP_*`` values, so a deployment without a configuration file binds as before.
"""
from __future__ import annotations

from processors.providers.registry import ProviderContext, ProviderKind
from processors.providers.smpp.adapter import SmppProvider


def _dispatch(context: ProviderContext) -> SmppProvider:
    settings, options = context.settings, context.options
    host, port = settings.smpp_address
    return SmppProvider(str(options.get("host", host)), int(options.get("port", port)),
                        str(options.get("system_id", settings.smpp_system_id)), settings.smpp_password,
                        window=int(options.get("window", settings.smpp_window)), on_report=context.on_report,
                        on_inbound=context.on_inbound, name=context.name,
                        decimal_receipt_ids=bool(options.get("decimal_receipt_ids", settings.smpp_decimal_receipt_ids)))


def _check(context: ProviderContext) -> None:
    _ = context.settings.smpp_password


KIND = ProviderKind(kind="smpp", channels=frozenset({"SMS"}), dispatch=_dispatch, check=_check)
