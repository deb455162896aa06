"""Rules more than one stage applies, kept in one place so no stage imports another: phone numbers (``numbers``),
consent keys and the consent basis of a message (``consent``), idempotency records and reserved keys (``idempotency``),
accepted time zones (``zones``), fraud: SMS pumping detection and a key's country allow-list (``fraud``: consent and
the intake), and templates: the template files and their bundled set (``templates``, ``templates/*.toml``), the Liquid
sandbox that renders them and its errors (``sandbox``), the RCS section's shapes (``rcs``) and the issues found in a
template (``issues``): the intake, render, campaigns, the template store and the studio all read them."""
