import os

import django
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")
django.setup(set_prefix=False)

from tmsite.web import web_heap_freeze, web_process_setup  # noqa: E402  (needs settings)

web_process_setup()
application = get_asgi_application()
web_heap_freeze()  # last: everything loaded so far lives as long as the process
