"""Which stages exist and how each is built from settings: the one place that wires reference data to pure logic."""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Callable

from common.config import Settings
from common.errors import CourrierError
from common.kafka_clients import require_broker
from processors.runtime.lanes import LaneStage, group_id, lane_stage, parse_lanes, run_lanes
from processors.runtime.runner import Runner, RunnerOptions
from processors.runtime.stage import Stage
from processors.runtime.table import TopicTable


if TYPE_CHECKING:
    from processors.providers.deployment import Deployment
    from processors.channel.logic import CapabilityLookup
    from processors.providers.registry import ConfiguredProvider
    from processors.templates_store.catalog import TemplateCatalog


class UnknownStage(CourrierError):
    """The name given is not a stage."""


Built = tuple[Stage, list[TopicTable]]
# A chain stage's parts: its tables, built once, and a maker of stage instances reading them (one per lane).
Parts = tuple[Callable[[], Stage], list[TopicTable]]


def _consent(settings: Settings) -> Parts:
    from processors.consent.fraud import guard_from_settings
    from processors.consent.stage import ConsentStage, rules_from_settings
    from processors.keywords.completeness import configured as configured_keywords
    from processors.consent.suppressions import Suppressions, salt

    from datetime import timedelta

    from processors.intake.settings import IntakeSettings

    # Consent and frequency rows sit on their number's partition of send-requested: an instance holds the partitions
    # it reads (restored on assignment). Idempotency keys and erased numbers cannot be placed so: whole tables.
    consents = TopicTable(settings, "consent", co_partitioned_with="send-requested")
    sends = TopicTable(settings, "frequency", co_partitioned_with="send-requested")
    keys = TopicTable(settings, "idempotency")
    erased = TopicTable(settings, "suppressions")
    window = timedelta(seconds=IntakeSettings().idempotency_window_s)
    templates = _template_store(settings, compile=False)  # whether a template is marketing: its latest published version says
    rules = rules_from_settings(settings, templates, configured_keywords().group_missing)
    fraud, suppressions = guard_from_settings(settings), Suppressions(erased, salt(settings))  # one guard hears every lane

    def make() -> Stage:
        return ConsentStage(consents, sends, rules, keys, window, fraud=fraud, suppressions=suppressions)

    return make, [consents, sends, keys, erased, templates]  # type: ignore[list-item]  # the store starts and stops as a table


def _template_store(settings: Settings, compile: bool = True) -> "TemplateCatalog":
    """The template store as a stage reads it; the bundled templates (or templates_dir) seed the ids it lacks at start.
    ``compile=False``: the templates' purposes only, without the template engine (``TemplateIndex``)."""
    from dataclasses import replace
    from pathlib import Path

    from processors.rules.rcs import DEFAULT_LIMITS
    from processors.rules.bundled_templates import DEFAULT_DIR
    from processors.templates_store.catalog import TemplateCatalog

    return TemplateCatalog(settings, replace(DEFAULT_LIMITS, text=settings.rcs_text_max_chars),
                           seed_dir=Path(settings.templates_dir or DEFAULT_DIR), compile=compile)


def _channel(settings: Settings) -> Parts:
    from processors.providers.deployment import current
    from processors.channel.senders import SenderPools
    from processors.channel.stage import ChannelStage
    from processors.consent.countries import bundled_countries, load_countries
    from processors.keywords.completeness import configured as configured_keywords

    deployment = current(settings)
    pools = SenderPools.from_mapping(deployment.senders, f"{deployment.source}: senders") if deployment.senders is not None else None
    # The country rules consent applies (the same file) also say which sender types may reach a country's numbers.
    countries = load_countries(settings.quiet_hours_file) if settings.quiet_hours_file else bundled_countries()
    refusal = configured_keywords().sender_refusal

    def make() -> Stage:  # each lane its own capability client (and cache)
        return ChannelStage(pools, rcs_capable=rcs_capability(settings, deployment), mms_regions=settings.mms_region_codes,
                            sms_fallback_after_s=settings.rcs_sms_fallback_after_s, sender_refusal=refusal,
                            sender_types=countries.allows)

    return make, []


def rcs_capability(settings: Settings, deployment: "Deployment") -> "CapabilityLookup":
    """Who can say whether a number is RCS-capable: the first RCS provider whose kind can (in declaration order);
    without a ``[providers]`` table, the simulator's RBM-shaped API at ``COURRIER_RBM_URL`` when it is set; else nobody."""
    from processors.channel.logic import no_rcs_provider
    from processors.providers.registry import kind

    for provider in deployment.providers:
        build = kind(provider.kind).capability
        if "RCS" in provider.channels and build is not None:
            return build(provider.context(settings))
    if not deployment.declared and settings.rbm_url:
        return kind("sim").capability(legacy_rbm(settings).context(settings))
    return no_rcs_provider


def legacy_rbm(settings: Settings) -> "ConfiguredProvider":
    """The simulator's RBM-shaped API at ``COURRIER_RBM_URL``, as a provider (settings without ``[providers]``)."""
    from processors.providers.deployment import legacy_provider

    return legacy_provider("http:sim", {"kind": "sim", "url": settings.rbm_url})


def _render(settings: Settings) -> Parts:
    from dataclasses import replace

    from processors.render.media import MediaPipeline
    from processors.rules.rcs import DEFAULT_LIMITS
    from processors.render.stage import RenderStage

    limits = replace(DEFAULT_LIMITS, text=settings.rcs_text_max_chars)
    from processors.providers.deployment import current
    from processors.render.logic import footers_from

    deployment = current(settings)
    footers = footers_from(deployment.footers, f"{deployment.source}: footers") if deployment.footers is not None else None
    templates = _template_store(settings)

    def make() -> Stage:  # each lane its own media pipeline (and cache)
        return RenderStage(rcs_limits=limits, media=MediaPipeline.from_settings(settings), link_domain=settings.link_domain,
                           footers=footers, templates=templates)

    return make, [templates]  # type: ignore[list-item]  # started and stopped as a table


def _dispatch(settings: Settings) -> tuple[list[LaneStage], list[TopicTable]]:
    """One dispatch stage per lane, sharing the submissions ledger, the senders' budgets and the consent and campaign
    tables; each lane builds its own providers: the deployment's (``processors.providers.deployment``), routed by its routes."""
    from processors.providers.deployment import current
    from processors.dispatch.breaker import BreakerPolicy
    from processors.dispatch.ledger import SubmissionLedger
    from processors.dispatch.pacing import DEFAULT_LIMITS, Pacer, PacingLimits
    from processors.dispatch.pacing_metrics import PACING
    from processors.dispatch.stage import DispatchStage, ProviderSpec
    from processors.dispatch.validity import Validity
    from processors.providers.registry import ConfiguredProvider, kind
    from topology.topics import rendered_topic

    deployment = current(settings)

    def spec(provider: ConfiguredProvider) -> ProviderSpec:
        found = kind(provider.kind)
        found.check(provider.context(settings))  # a missing credential stops the stage now, naming the setting
        return ProviderSpec(lambda on_report, on_inbound: found.dispatch(provider.context(settings, on_report, on_inbound)),
                            provider.channels)

    providers = [spec(provider) for provider in deployment.providers]
    if not providers:
        raise CourrierError("no provider to send through: declare [providers.<name>] in the configuration file, "
                            "or set COURRIER_DISPATCH_PROVIDERS")
    consents, campaigns = TopicTable(settings, "consent"), TopicTable(settings, "campaigns")
    ledger = SubmissionLedger(settings)
    pacer = PACING.track(Pacer(PacingLimits.load(settings.dispatch_pacing_file or DEFAULT_LIMITS))) if settings.dispatch_pacing else None
    breaker = BreakerPolicy(failures=settings.dispatch_breaker_failures, cooldown_s=settings.dispatch_breaker_cooldown_s,
                            max_cooldown_s=max(120.0, settings.dispatch_breaker_cooldown_s))
    lanes = [LaneStage(lane, DispatchStage(providers, ledger, inputs=(rendered_topic(lane),), consents=consents, campaigns=campaigns,
                                           pacer=pacer, priority=lane == "TRANSACTIONAL", hold_s=settings.dispatch_hold_s,
                                           wave_size=settings.dispatch_wave_size, validity=Validity.from_settings(settings),
                                           breaker=breaker, routing=partial(deployment.candidates, lane=lane)),
                         group_id(settings, "dispatch", lane))
             for lane in parse_lanes(settings.lanes)]
    return lanes, [consents, campaigns]


def _receipt(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.providers.deployment import current
    from processors.receipt.stage import ReceiptStage

    # message-state is keyed by message id like every input (co-assigned by partition): an instance holds its partitions'
    # states; a report names only a provider's id, found in the whole provider-ids table.
    states = TopicTable(settings, "message-state", co_partitioned_with="dispatched")
    provider_ids = TopicTable(settings, "provider-ids")
    return ReceiptStage(states, prices=current(settings).prices, provider_ids=provider_ids), [states, provider_ids]


def _keywords(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.providers.deployment import current
    from processors.keywords.book import from_mapping
    from processors.keywords.stage import KeywordsStage

    deployment = current(settings)
    book = from_mapping(deployment.keywords, f"{deployment.source}: keywords") if deployment.keywords is not None else None
    return KeywordsStage(book=book), []


def _status(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.status.stage import StatusStage

    messages, campaigns = TopicTable(settings, "message-status"), TopicTable(settings, "campaign-status")
    return StatusStage(messages, campaigns), [messages, campaigns]


def _callbacks(settings: Settings) -> tuple[Stage, list[TopicTable]]:
    from processors.callbacks.sender import CallbackSender
    from processors.callbacks.settings import CallbackSettings
    from processors.callbacks.stage import CallbacksStage
    from processors.rules.addresses import AllowList

    config = CallbackSettings()
    keys = TopicTable(settings, "api-keys")  # the callback secrets
    return CallbacksStage(keys, CallbackSender(AllowList.parse(config.allow_hosts), config.timeout_s), config), [keys]


def _one(parts: Callable[[Settings], Parts]) -> Callable[[Settings], Built]:
    """A chain stage built as one instance with its tables, as one runner serving every lane runs it (tests, tools)."""
    def build(settings: Settings) -> Built:
        make, tables = parts(settings)
        return make(), tables
    return build


# The chain stages before dispatch: one instance per lane (processors.runtime.lanes), sharing the tables.
LANED: dict[str, Callable[[Settings], Parts]] = {"consent": _consent, "channel": _channel, "render": _render}
BUILDERS: dict[str, Callable[[Settings], Built]] = {
    **{name: _one(parts) for name, parts in LANED.items()},
    "receipt": _receipt,
    "keywords": _keywords,
    "status": _status,
    "callbacks": _callbacks,
}
STAGE_NAMES = (*BUILDERS, "dispatch", "scheduler")
CO_ASSIGNED = frozenset({"receipt"})  # stages whose inputs are keyed alike and must meet on one instance per partition


def run_stage(name: str, settings: Settings, *, exactly_once: bool = True, batch_size: int = 500, metrics_port: int | None = None) -> None:
    """Build stage ``name`` and run it until SIGTERM, each on the one runner (dispatch: one runner per lane)."""
    if name == "scheduler":
        from processors.scheduler.scheduler import Scheduler

        Scheduler(settings, metrics_port=metrics_port, exactly_once=exactly_once).run()
        return
    options = RunnerOptions(batch_size=batch_size, exactly_once=exactly_once, metrics_port=metrics_port)
    if name == "dispatch":  # one stage per lane, each on a runner of its own (processors/runtime/lanes.py)
        require_broker(settings)
        lanes, tables = _dispatch(settings)
        run_lanes(lanes, tables, settings, options)
        return
    if name in LANED:  # one instance per lane, each on a runner of its own, sharing the tables
        require_broker(settings)
        make, tables = LANED[name](settings)
        run_lanes([lane_stage(settings, name, lane, make()) for lane in parse_lanes(settings.lanes)], tables, settings, options,
                  state=[table for table in tables if table.co_partitioned])
        return
    if name not in BUILDERS:
        raise UnknownStage(f"no stage {name!r}; choose one of {', '.join(STAGE_NAMES)}")
    require_broker(settings)
    stage, tables = BUILDERS[name](settings)
    for table in tables:
        table.start()
    try:
        Runner(stage, settings, replace(options, co_assigned_inputs=name in CO_ASSIGNED),
               state=[table for table in tables if table.co_partitioned]).run()
    finally:
        for table in tables:
            table.stop()
