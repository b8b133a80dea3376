"""The WSGI entry gunicorn serves."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_op_site.settings")
application = get_wsgi_application()
