from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView

from gatehouse import branding, health, metrics_endpoint
from gatehouse.api import api
from gatehouse.authenticator import webapp as authenticator_app
from gatehouse.enrollment import help as help_pages
from gatehouse.enrollment import pairing_views
from gatehouse.enrollment import views as portal
from gatehouse.providers import forward_auth
from gatehouse.providers.oidc import views as oidc_views
from gatehouse.signin import views as signin_views

urlpatterns = [
    path("", signin_views.home_page, name="home"),
    path("signin", signin_views.signin_page, name="signin"),
    path("signin/<str:flow_id>", signin_views.flow_page, name="signin-flow"),
    path("signin/<str:flow_id>/cancel", signin_views.cancel_page),
    path("signout", signin_views.signout_page, name="signout"),
    path("security-info", portal.overview, name="security-info"),
    path("security-info/setup", portal.setup),
    path("security-info/setup/totp", portal.setup_totp),
    path("security-info/setup/totp/<int:method_id>", portal.setup_totp_step),
    path("security-info/setup/push", pairing_views.setup_push),
    path("security-info/setup/push/<int:link_id>", pairing_views.setup_push_step),
    path("security-info/setup/done/<int:method_id>", portal.setup_done),
    path("security-info/recovery-codes", portal.recovery_codes),
    path("authenticator/", authenticator_app.page),
    path("authenticator/pair", authenticator_app.page),
    path("authenticator/<str:name>", authenticator_app.asset),
    path("security-info/methods/<int:method_id>", portal.change_method),
    path("security-info/sign-ins", portal.sign_ins),
    path("security-info/sessions", signin_views.sessions_page, name="sessions"),
    path("favicon.ico", RedirectView.as_view(url=static("gatehouse/favicon.png"), permanent=True)),
    path("branding/logo", branding.logo_view),
    path("help/<slug:topic>", help_pages.page),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics_endpoint.view),
    path("api/authz/forward-auth", forward_auth.django_view),
    path("api/authz/auth-request", forward_auth.django_view),
    path("api/v1/", api.urls),
    path("oauth/", include("gatehouse.providers.oidc.urls")),
    path(".well-known/openid-configuration", oidc_views.DiscoveryView.as_view()),
]

handler400 = "gatehouse.errors.bad_request"
handler403 = "gatehouse.errors.permission_denied"
handler404 = "gatehouse.errors.page_not_found"
handler500 = "gatehouse.errors.server_error"
