"""The area code → state table consent ships (``processors.consent.us_area_codes``) is what phonenumbers' geocoder says,
and consent's country rules no longer load the geocoder (about 100 MB a process)."""
from __future__ import annotations

import subprocess
import sys

from processors.consent import us_area_codes


def test_the_shipped_table_is_the_geocoders_answer_for_every_area_code() -> None:
    shipped = us_area_codes._table()
    assert shipped == us_area_codes.from_geocoder(), "run `python -m processors.consent.us_area_codes` and commit the table"
    assert (us_area_codes.state_of("305"), us_area_codes.state_of("212"), us_area_codes.state_of("416")) == ("FL", "NY", None)


def test_the_consent_stage_does_not_import_the_geocoder() -> None:
    probe = "import sys, processors.consent.stage, processors.channel.stage; print('phonenumbers.geocoder' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"
