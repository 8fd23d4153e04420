from django.urls import path

from gatehouse import health
from gatehouse.api import api
from gatehouse.signin import views as signin_views

urlpatterns = [
    path("", signin_views.home_page, name="home"),
    path("signin", signin_views.signin_page, name="signin"),
    path("signout", signin_views.signout_page, name="signout"),
    path("security-info/sessions", signin_views.sessions_page, name="sessions"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/v1/", api.urls),
]
