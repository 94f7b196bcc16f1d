"""A dispatcher in its own process, for tests that kill it mid-batch (SIGKILL).

python -m tests.support.tick_worker SETTINGS_JSON WAVE_ID NOW_ISO
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from reconsent.db import make_engine
from reconsent.dispatch.dispatcher import Dispatcher
from reconsent.settings import Settings
from reconsent.wiring import build_adapters


def main() -> None:
    settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
    wave_id, now = int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(engine, settings, build_adapters(settings))
    for lo, hi in dispatcher.due_ranges(wave_id, now, 5000):
        dispatcher.advance(wave_id, lo, hi, now)


if __name__ == "__main__":
    main()
