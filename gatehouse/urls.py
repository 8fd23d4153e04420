from django.urls import include, path

from gatehouse import health
from gatehouse.api import api
from gatehouse.authenticator import views as authenticator_views
from gatehouse.authenticator import webapp as authenticator_app
from gatehouse.enrollment import views as portal
from gatehouse.providers import forward_auth
from gatehouse.providers.oidc import views as oidc_views
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
    path("security-info/authenticator", authenticator_views.pair_page),
    path("authenticator/", authenticator_app.page),
    path("authenticator/pair", authenticator_app.page),
    path("authenticator/<str:name>", authenticator_app.asset),
    path("security-info/methods/<int:method_id>", portal.change_method),
    path("security-info/sign-ins", portal.sign_ins),
    path("security-info/sessions", signin_views.sessions_page, name="sessions"),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/authz/forward-auth", forward_auth.django_view),
    path("api/authz/auth-request", forward_auth.django_view),
    path("api/v1/", api.urls),
    path("oauth/", include("gatehouse.providers.oidc.urls")),
    path(".well-known/openid-configuration", oidc_views.DiscoveryView.as_view()),
]

handler400 = "gatehouse.health.bad_request"
handler500 = "gatehouse.health.server_error"
