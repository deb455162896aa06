"""The consent stage: ``send-requested`` → ``consent-checked`` (+ ``frequency``), a deferral, or a terminal receipt."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable, Mapping

from common.config import Settings
from processors.consent import quiet_hours
from processors.consent.countries import bundled_countries, load_countries
from processors.consent.fraud import FraudGuard
from processors.consent.frequency import Cap, RecentSends, load_caps
from processors.consent.idempotency import DEFAULT_WINDOW, KeyClaims, duplicate, stored_key
from processors.consent.logic import Rules, check, default_rules
from processors.rules.test_sends import parse_test_numbers
from processors.consent.message_ids import check_message_id, reserved_key
from processors.consent.suppressions import Suppressions
from processors.failed import beside_dead_letter
from processors.rules.purposes import marketing_templates
from processors.rules.bundled_templates import DEFAULT_DIR
from processors.rules.template_versions import MarketingIds, TemplateIndex
from processors.runtime.stage import Event, Output, RecordMeta


def rules_from_settings(settings: Settings, templates: TemplateIndex | None = None,
                        group_incomplete: Callable[[str], str | None] | None = None) -> Rules:
    """Quiet hours (unless turned off), frequency caps, the countries' limits and the marketing templates as the settings
    and their data files say.

    The countries' limits come from the quiet-hours file (or folder) too: one file holds a country's rules. The
    marketing templates are those whose latest published version in the template store ``templates`` declares
    ``purpose = "marketing"`` (without a store: those of the folder ``templates_dir`` declaring it).
    ``group_incomplete(group)``: why a subscription group may not send marketing yet (its senders' STOP and HELP
    responses, ``keywords.completeness``, as the catalog composes it), or None.
    Test sends go to the numbers of ``test_numbers`` only (``rules.test_sends``).
    """
    hours = quiet_hours.load(settings.quiet_hours_file) if settings.quiet_hours_enabled else None
    default_cap = Cap(settings.frequency_cap_max, timedelta(days=settings.frequency_cap_window_days))
    countries = load_countries(settings.quiet_hours_file) if settings.quiet_hours_file else bundled_countries()
    return Rules(hours, load_caps(settings.frequency_caps_file, default_cap), countries,
                 MarketingIds(templates) if templates is not None else marketing_templates(settings.templates_dir or DEFAULT_DIR),
                 group_incomplete,
                 parse_test_numbers(settings.test_numbers))


class ConsentStage:
    """Checks each request's message id and idempotency key, then the number rules, a read-only consent view, quiet hours
    and frequency caps.

    ``consents`` is keyed ``E164|group`` with ``ConsentChange`` values, ``sends`` keyed the same with
    ``FrequencyRecord`` values, ``suppressions`` the numbers erased on request (a table of ``suppressions``),
    ``keys`` by idempotency key (and ``courrier:message-id:<id>`` for
    message-id claims, see ``message_ids``) with ``IdempotencyRecord`` values; in production they
    are tables of compacted topics (``consent``, ``frequency``, ``idempotency``), in tests plain dicts.
    """

    name = "consent"
    inputs = ("send-requested",)

    def __init__(self, consents: Mapping[str, Event], sends: Mapping[str, Event] | None = None, rules: Rules | None = None,
                 keys: Mapping[str, Event] | None = None, idempotency_window: timedelta = DEFAULT_WINDOW,
                 suppressions: Suppressions | None = None, fraud: FraudGuard | None = None) -> None:
        """``fraud`` (``processors.consent.fraud``) suppresses suspected SMS pumping; with it the stage also reads
        ``conversions``, whose reported OTP conversions lower the limit of a prefix that converts poorly."""
        self._consents = consents
        # A co-partitioned table (runtime.table) says whether it holds a number's rows; a dict or whole table holds all.
        self._holds: Callable[[str], bool] = getattr(consents, "holds", lambda _number: True)
        self._fraud = fraud
        self.inputs = ("send-requested", "conversions") if fraud is not None else ("send-requested",)
        self._erased = suppressions.refusal if suppressions is not None else None
        self._sends = RecentSends(sends if sends is not None else {})
        self._rules = rules or default_rules()
        self._keys = KeyClaims(keys if keys is not None else {}, idempotency_window)

    def dead_letter_outputs(self, event: Event, error: BaseException, meta: RecordMeta) -> list[Output]:
        """The message's ``FAILED`` receipt beside its dead-letter record (``processors.failed``); nothing beside a conversion."""
        return [] if meta.topic == "conversions" else beside_dead_letter(self.name, event, error, meta)

    def process(self, event: Event, meta: RecordMeta) -> list[Output]:
        """The message id first (blank or another message's: rejected), then the idempotency key, then the consent check.

        Each claim (message id, idempotency key) is published with the outputs of the request that made it. A
        conversion (read only with a fraud guard) is counted and produces nothing.
        """
        if meta.topic == "conversions" and self._fraud is not None:
            self._fraud.hear(event, meta.now)
            return []
        ids = check_message_id(event, self._keys, meta.now)
        if ids.refusal is not None:
            return [ids.refusal]
        claimed = [ids.claim] if ids.claim is not None else []
        refused = reserved_key(event, meta.now)
        if refused is not None:
            return [*claimed, refused]
        idempotency_key = stored_key(event)
        message_id = event["context"]["message_id"]
        if idempotency_key:
            first = self._keys.earlier(idempotency_key, message_id, meta.now)
            if first is not None:
                return [*claimed, duplicate(event, first, meta.now)]
            record = self._keys.claim(idempotency_key, message_id, meta.now)
            claimed += [record] if record is not None else []
        key = meta.key or ""
        if key and not self._holds(key):  # read where this number's rows are not: put back under its own partition
            key = ""
        outputs = check(event, self._consents, meta.now, rules=self._rules, sends=self._sends, key=key, erased=self._erased)
        if self._fraud is not None:
            outputs = self._fraud.screen(outputs, meta.now)
        self._sends.remember(outputs)
        return [*claimed, *outputs]
