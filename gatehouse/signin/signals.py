"""What the sign-in layer announces, for the providers above it (which it may not import) to act
on: the OIDC provider revokes the tokens of a session that ends, and follows a session into the
one that replaces it."""

from django.dispatch import Signal

# session=SSOSession, reason=str (the session's ended_reason)
session_ended = Signal()
# old=SSOSession, new=SSOSession: a sign-in or step-up in the same browser rotated the session
session_replaced = Signal()
