from django.urls import path

from gatehouse import health
from gatehouse.api import api
from gatehouse.enrollment import views as portal
from gatehouse.providers import forward_auth
from gatehouse.signin import views as signin_views

urlpatterns = [
    path("", signin_views.home_page, name="home"),
    path("signin", signin_views.signin_page, name="signin"),
    path("signin/<str:flow_id>", signin_views.flow_page, name="signin-flow"),
    path("signout", signin_views.signout_page, name="signout"),
    path("security-info", portal.overview, name="security-info"),
    path("security-info/totp", portal.add_totp),
    path("security-info/totp/<int:method_id>/confirm", portal.confirm_totp),
    path("security-info/recovery-codes", portal.recovery_codes),
    path("security-info/methods/<int:method_id>", portal.change_method),
    path("security-info/sign-ins", portal.sign_ins),
    path("security-info/sessions", signin_views.sessions_page, name="sessions"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/authz/forward-auth", forward_auth.forward_auth),
    path("api/authz/auth-request", forward_auth.auth_request),
    path("api/v1/", api.urls),
]
