"""The statements that fill new tables from existing rows when a database is upgraded (known
places from the sign-in log, each user's kinds of method) give what the running code keeps."""

import importlib

import pytest
from django.db import connection
from django.utils import timezone

from gatehouse.methods.models import AuthMethod, MethodKinds
from gatehouse.signin.models import KnownPlace, SignInEvent

pytestmark = pytest.mark.django_db


def fill(migration: str) -> None:
    statement = importlib.import_module(migration).FILL[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(statement)


def test_known_places_are_filled_from_successful_sign_ins(alice, make_user):
    bob = make_user("bob")
    now = timezone.now()
    rows = [
        (alice, "203.0.113.7", [], "success"),
        (alice, "10.1.2.3", ["Trust sites", "Ward 7"], "success"),
        (alice, "198.51.100.1", [], "failure"),
        (bob, "2001:db8::1", [], "success"),
        (None, "192.0.2.9", [], "success"),
    ]
    for user, ip, locations, result in rows:
        SignInEvent.objects.create(
            time=now,
            username="x",
            user=user,
            ip=ip,
            locations=locations,
            result=result,
            reason="ok",
        )
    fill("gatehouse.signin.migrations.0007_known_places")
    assert set(KnownPlace.objects.values_list("user__username", "place")) == {
        ("alice", "ip:203.0.113.7"),
        ("alice", "location:Trust sites"),
        ("alice", "location:Ward 7"),
        ("bob", "ip:2001:db8::1"),
    }


def test_method_kinds_are_filled_from_confirmed_methods(alice, make_user):
    bob = make_user("bob")
    for user, kind, confirmed in [
        (alice, "totp", True),
        (alice, "totp", True),
        (alice, "push", True),
        (bob, "recovery_codes", True),
        (bob, "totp", False),
    ]:
        AuthMethod.objects.create(user=user, kind=kind, name=kind, confirmed=confirmed)
    kept = set(MethodKinds.objects.values_list("user__username", "kinds"))
    MethodKinds.objects.all().delete()
    fill("gatehouse.methods.migrations.0002_method_kinds")
    assert (
        set(MethodKinds.objects.values_list("user__username", "kinds"))
        == kept
        == {
            ("alice", "push,totp"),
            ("bob", "recovery_codes"),
        }
    )
