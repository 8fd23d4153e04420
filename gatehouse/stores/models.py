"""The shared store's tables, used when no Redis is configured (gatehouse.stores.database).
They were created by the sign-in app and keep its table names."""

from django.db import models


class Record(models.Model):
    """A JSON record under a key (`space:key`), until it expires."""

    key = models.CharField(primary_key=True, max_length=200)
    data = models.TextField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "signin_throttlerecord"


class Counter(models.Model):
    """A change counter (`space:name`)."""

    name = models.CharField(primary_key=True, max_length=64)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "signin_generation"


class Message(models.Model):
    """A message published on a channel (`channel:text`), kept a few minutes for the pollers."""

    text = models.CharField(max_length=64, db_column="flow_id")
    at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "signin_flowevent"
