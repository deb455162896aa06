"""Which time zone names Courrier accepts: the canonical IANA zones (and their tz-database aliases), never a folder
of the tz database, the machine's own ``localtime``, ``posixrules`` or a ``posix/``/``right/`` copy. The intake, the
consent stage and campaigns ask this one test, so they agree."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

# Files of the tz folder that ZoneInfo opens but that name no place: the machine's own zone (a link
# that differs per machine), the POSIX default rules, tzdata's "Factory" placeholder, and the
# "posix/" and "right/" (leap-second) copies of every zone. A folder ("Etc", "Europe") is no zone
# either: ZoneInfo raises IsADirectoryError for it, which is why membership is the test, not opening.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_ZONE_FOLDERS = ("posix/", "right/")


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The canonical IANA zone names (and their tz-database aliases, ``US/Eastern``) this machine knows: computed once."""
    return frozenset(name for name in available_timezones() if name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_FOLDERS))


def valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone: the one test the intake, consent and campaigns share, so they agree."""
    return name in known_zones()
