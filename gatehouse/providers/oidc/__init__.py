"""The OpenID Connect provider (django-oauth-toolkit underneath; docs/oidc.md): clients that
follow the protected apps, an authorize step that runs the app's policies, ID tokens that say
how the person signed in, and tokens that end with the SSO session that issued them."""
