"""ASGI entry point for `gatehouse serve`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
application = get_asgi_application()
