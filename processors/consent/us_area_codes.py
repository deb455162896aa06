"""Which US state a North American area code (NPA) belongs to, from a table shipped with Courrier.

The table is phonenumbers' geocoder's answer for every area code, written once (``python -m
processors.consent.us_area_codes`` writes it again, e.g. after a phonenumbers upgrade; a test fails when they differ).
Why not ask the geocoder at run time: importing it loads every country's place names, about 100 MB a process,
for the ~400 area codes a state rule needs.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("data") / "us_area_codes.json"
# The geocoder names US states in full ("Florida", "Washington State") or as "City, ST".
US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Washington D.C.": "DC", "Florida": "FL",
    "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI",
    "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}


def state_of(area_code: str) -> str | None:
    """The two-letter state of a three-digit US area code, None for one in no state (or not a US area code)."""
    return _table().get(area_code)


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def from_geocoder() -> dict[str, str]:
    """Every area code's state as phonenumbers' geocoder says it today (imports the geocoder: slow and large)."""
    import phonenumbers
    from phonenumbers import geocoder

    states = {}
    for npa in range(200, 1000):
        try:
            example = phonenumbers.parse(f"+1{npa}5550123")
        except phonenumbers.NumberParseException:
            continue
        place = geocoder.description_for_number(example, "en")
        state = US_STATES.get(place) or place.rpartition(", ")[2]
        if state in US_STATES.values():
            states[str(npa)] = state
    return states


if __name__ == "__main__":
    states = from_geocoder()
    TABLE.write_text(json.dumps(states, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(states)} area codes to {TABLE}")
