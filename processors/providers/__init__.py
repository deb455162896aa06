"""Where each provider lives, one folder per provider (``processors/providers/<name>/``): its dispatch adapter (the
``processors.dispatch.provider.Provider`` contract), its webhook verifier and parser (a
``processors.web.webhook_contract.WebhookProvider``), its status table, its settings and the fake server its tests run
against on 127.0.0.1. Dispatch, webhooks and receipt see only those contracts; wiring a provider in is one branch in
``processors.catalog`` and one entry in ``processors.webhooks.providers``."""
