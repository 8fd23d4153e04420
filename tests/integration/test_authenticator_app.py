"""The Gatehouse Authenticator web app's files, as Gatehouse serves them under /authenticator/."""

import json
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_app_is_served_at_its_address_and_at_the_pairing_link():
    for path in ("/authenticator/", "/authenticator/pair"):
        page = Client().get(path)
        assert page.status_code == 200
        assert page["Content-Type"] == "text/html; charset=utf-8"
        assert b'<link rel="manifest" href="/authenticator/manifest.webmanifest">' in page.content
        policy = page["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert Client().get("/authenticator").status_code == 301  # to /authenticator/


def test_every_file_the_page_names_is_served_with_its_type():
    page = Client().get("/authenticator/").content.decode()
    named = set(re.findall(r'(?:href|src)="(/authenticator/[^"]+)"', page))
    assert {"/authenticator/app.js", "/authenticator/app.css"} <= named
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    types |= {".png": "image/png", ".webmanifest": "application/manifest+json"}
    for path in named:
        answer = Client().get(path)
        assert answer.status_code == 200, path
        assert answer["Content-Type"].startswith(types[path[path.rindex(".") :]]), path


def test_the_manifest_makes_it_installable():
    manifest = json.loads(Client().get("/authenticator/manifest.webmanifest").content)
    assert manifest["start_url"] == manifest["scope"] == manifest["id"] == "/authenticator/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "Gatehouse Authenticator"
    icons = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons
    for icon in manifest["icons"]:
        assert Client().get(icon["src"]).status_code == 200, icon["src"]


def test_the_service_worker_may_control_the_whole_app():
    worker = Client().get("/authenticator/sw.js")
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/authenticator/"
    assert b'addEventListener("push"' in worker.content


def test_files_are_revalidated_and_unchanged_ones_not_sent_again():
    first = Client().get("/authenticator/app.js")
    assert first["Cache-Control"] == "no-cache"
    again = Client().get("/authenticator/app.js", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_nothing_else_is_served_from_the_folder():
    for name in ("index.html", "nothing.js", "..%2Fviews.py", "app.js.map"):
        assert Client().get(f"/authenticator/{name}").status_code == 404, name
    assert Client().post("/authenticator/app.js").status_code == 405
