"""Keeping each user's MethodKinds current: every save or delete of an AuthMethod (however it
is made: the registry, the portal, an admin, a cascade) recomputes its user's row in the same
transaction, from the user's confirmed methods."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from gatehouse.methods.models import AuthMethod, MethodKinds


def refresh(user_id: int) -> None:
    with transaction.atomic():
        # The user's row is the lock: of two changes to one user's methods at once, the later
        # reads what the earlier committed.
        get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk").first()
        confirmed = AuthMethod.objects.filter(user_id=user_id, confirmed=True)
        kinds = ",".join(sorted(set(confirmed.values_list("kind", flat=True))))
        if not kinds:
            # (Also what a user's deletion comes to: their methods go before they do.)
            MethodKinds.objects.filter(user_id=user_id).delete()
            return
        MethodKinds.objects.bulk_create(
            [MethodKinds(user_id=user_id, kinds=kinds)],
            update_conflicts=True,
            unique_fields=["user"],
            update_fields=["kinds"],
        )


def on_change(sender: object, instance: AuthMethod, **kwargs: object) -> None:
    refresh(instance.user_id)
