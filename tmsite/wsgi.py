import os

import django
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tmsite.settings")
django.setup(set_prefix=False)

from tmsite.web import web_heap_freeze, web_process_setup  # noqa: E402  (needs settings)

web_process_setup()  # before anything imports the libraries tracing instruments

from tmsite.api.edge import edge_wrap  # noqa: E402

application = edge_wrap(get_wsgi_application())
web_heap_freeze()  # last: everything loaded so far lives as long as the process
