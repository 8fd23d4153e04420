"""What the authenticator announces, for the layers above it (which it may not import) to act on:
the sign-in flow counts a wrong number, wakes whoever waits for the sign-in and records a
reported sign-in in the sign-in log; the security-info portal treats a paired phone as a method
added (audit, email, registration grace over)."""

from django.dispatch import Signal

# flow_id=str, user=User, outcome=str (approved, denied or wrong_number): a phone answered a
# push challenge (sent once the answer is stored).
push_answered = Signal()
# flow_id=str, reason=str: the user reported the sign-in as not theirs. Sent inside the
# transaction that blocks them, so the sign-in log's change commits with the block.
sign_in_reported = Signal()
# user=User, method=AuthMethod: a phone paired, and is a confirmed method of its user.
phone_paired = Signal()
