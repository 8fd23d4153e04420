"""Exit 0 when the PostgreSQL server in the given URL accepts connections (used by `make test`)."""

import sys

import psycopg

try:
    psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
except psycopg.Error:
    sys.exit(1)
