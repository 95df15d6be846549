"""Settings of the API benchmark's server: the site's own settings, plus one bench-only URL.

``ROOT_URLCONF`` adds ``/bench/fixed/<bytes>`` (fixed bytes through the whole middleware
stack) beside the site's URLs; nothing else differs from what ``make serve`` runs.
"""

import os

# Importing tmsite starts its Celery app, which reads the settings while this module is still
# half-imported; that first read gets the site's own module (the same values).
os.environ["DJANGO_SETTINGS_MODULE"] = "tmsite.settings"
from tmsite.settings import *  # noqa: E402, F403

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_bench_settings"

ROOT_URLCONF = "bench.api_bench_urls"
