"""The OIDC endpoints under /oauth/ (the toolkit's names, so that its discovery document can
reverse them); discovery is also served at the issuer's root (gatehouse/urls.py). The toolkit's
application-management and device-flow views are deliberately not mounted."""

from django.urls import path
from oauth2_provider import views as toolkit

from gatehouse.providers.oidc import views

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", views.AuthorizeView.as_view(), name="authorize"),
    path("token/", views.TokenEndpointView.as_view(), name="token"),
    path("revoke_token/", views.RevokeView.as_view(), name="revoke-token"),
    path("introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("userinfo/", toolkit.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.LogoutView.as_view(), name="rp-initiated-logout"),
    path(".well-known/jwks.json", toolkit.JwksInfoView.as_view(), name="jwks-info"),
    path(
        ".well-known/openid-configuration",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
]
