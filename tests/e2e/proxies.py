"""Real reverse proxies in front of the real server, for the end-to-end tests: Debian's nginx
(`auth_request`) and Caddy (`forward_auth`) as child processes on free loopback ports, each
running the snippet that docs/proxies/ ships, with a throwaway PKI (TLS for the app host and a
managed device's client certificate) and a small upstream app that answers with the headers it
received.

Clients are simulated on one machine: the test client plays a load balancer on 127.0.0.1 that
the proxy trusts, and says where "the browser" is with X-Forwarded-For. BehindEveryProxy holds
the tests every proxy must pass; tests/e2e/test_nginx.py and test_caddy.py run them."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pyotp
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e import authelia_snippets, liveserver
from tests.e2e.liveserver import PASSWORD, LiveServer, free_port, ok, stop_process

DOCS = Path(__file__).resolve().parents[2] / "docs" / "proxies"
APP_HOST = "mail.demo.test"
SIGNIN_HOST = "signin.demo.test"  # Gatehouse's public URL is https://SIGNIN_HOST
# What the documented snippets call the app, Gatehouse (host and address) and the app's server.
DOC_APP_HOST = "mail.example.org"
DOC_SIGNIN_HOST = "signin.example.org"
DOC_GATEHOUSE = "127.0.0.1:8000"
DOC_UPSTREAM = "127.0.0.1:8080"
SESSION_COOKIE = "gatehouse_session"
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
START_TIMEOUT = 20.0


def require(path: str | Path | None, reason: str) -> None:
    """Skip the test when a Debian package is missing, or fail under CI (which installs it)."""
    if path and Path(path).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def program(name: str) -> str:
    """A Debian package's program, skipping (or under CI failing) the test without it."""
    # /usr/sbin (nginx) is not on every user's PATH.
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    require(found, f"{name} is missing; `make system-deps` (as root) installs it")
    return str(found)


def require_nginx() -> str:
    require(NJS_MODULE, f"{NJS_MODULE} is missing; `make system-deps` (as root) installs it")
    return program("nginx")


def require_caddy() -> str:
    return program("caddy")


# --- the PKI ---------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _leaf(usage: x509.ObjectIdentifier) -> list[tuple[x509.ExtensionType, bool]]:
    key_usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage, True),
        (x509.ExtendedKeyUsage([usage]), False),
    ]


@dataclass(frozen=True)
class Pki:
    """One CA issuing the app host's TLS certificate and a managed device's client certificate
    (what an organisation's device CA would issue to each of its computers)."""

    ca: Path
    server_cert: Path
    server_key: Path
    device_cert: Path
    device_key: Path
    device_fingerprint: str  # SHA-256 of the device certificate (DER), as Gatehouse keys it

    @classmethod
    def create(cls, folder: Path) -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        ca = _issue(
            "Gatehouse e2e device CA",
            ca_key,
            None,
            [(x509.BasicConstraints(ca=True, path_length=0), True), (ca_usage, True)],
        )
        issuer = (ca.subject, ca_key)
        server_key = ec.generate_private_key(ec.SECP256R1())
        names = x509.SubjectAlternativeName(
            [
                x509.DNSName(APP_HOST),
                x509.DNSName(SIGNIN_HOST),
                x509.IPAddress(IPv4Address("127.0.0.1")),
            ]
        )
        server = _issue(
            APP_HOST, server_key, issuer, [*_leaf(ExtendedKeyUsageOID.SERVER_AUTH), (names, False)]
        )
        device_key = ec.generate_private_key(ec.SECP256R1())
        device = _issue("Ward PC 7", device_key, issuer, _leaf(ExtendedKeyUsageOID.CLIENT_AUTH))
        pem = serialization.Encoding.PEM
        (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
        (folder / "server.pem").write_bytes(server.public_bytes(pem))
        (folder / "device.pem").write_bytes(device.public_bytes(pem))
        return cls(
            ca=folder / "ca.pem",
            server_cert=folder / "server.pem",
            server_key=_write_key(server_key, folder / "server.key"),
            device_cert=folder / "device.pem",
            device_key=_write_key(device_key, folder / "device.key"),
            device_fingerprint=device.fingerprint(hashes.SHA256()).hex(),
        )


# --- the organisation -----------------------------------------------------------------------

TRUST_SITE, HOME = "10.20.30.40", "203.0.113.7"
# username -> (display name, group); each test signs in as people of its own.
PEOPLE = {
    "ward-nurse": ("Wendy Ward", "Staff"),
    "home-nurse": ("Hal Home", "Staff"),
    "forging-nurse": ("Fay Forger", "Staff"),
    "spoofing-nurse": ("Sid Spoofer", "Staff"),
    "locum": ("Lee Locum", "Locums"),
}
# The policy the blocked test meets, beside the default set switched on.
NO_WEBMAIL_FOR_LOCUMS = {
    "id": "no-webmail-for-locums",
    "name": "Locums do not use Webmail",
    "state": "on",
    "conditions": {"users": {"include_groups": ["Locums"]}, "apps": {"include": ["Webmail"]}},
    "grant": {"block": True},
}


@contextlib.contextmanager
def protected_webmail(folder: Path, pki: Pki) -> Iterator[LiveServer]:
    """The real server, public at https://SIGNIN_HOST with its cookie for every *.demo.test
    host, set up through the `gatehouse` command: a trusted location (10.0.0.0/8), the
    PKI's device registered as managed, PEOPLE, the Webmail app at APP_HOST, and the default
    policies switched on (a password alone only on a managed device at a trust site) plus
    NO_WEBMAIL_FOR_LOCUMS."""
    settings = {"server": {"public_url": f"https://{SIGNIN_HOST}", "cookie_domain": "demo.test"}}
    with liveserver.running(folder, settings) as server:
        ok(
            server.import_users(
                (name, f"{name}@demo.test", display, "Wards", group, PASSWORD)
                for name, (display, group) in PEOPLE.items()
            )
        )
        ok(server.cli("locations", "set", "Trust sites", "10.0.0.0/8", "--trusted"))
        fingerprint = pki.device_fingerprint
        ok(server.cli("devices", "add", "--fingerprint", fingerprint, "--name", "Ward PC 7"))
        ok(server.cli("apps", "add", "Webmail", "--kind", "forward_auth", "--host", APP_HOST))
        policies = folder / "policies.yaml"
        ok(server.cli("policies", "export", str(policies)))
        document = yaml.safe_load(policies.read_text())
        for policy in document["policies"]:
            policy["state"] = "on"
        document["policies"].append(NO_WEBMAIL_FOR_LOCUMS)
        policies.write_text(yaml.safe_dump(document, sort_keys=False))
        ok(server.cli("policies", "import", str(policies)))
        yield server


# --- the upstream app ------------------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            # A repeated header would betray a proxy that adds instead of replacing.
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = json.dumps({"path": self.path, "headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def upstream() -> Iterator[int]:
    """The protected app: answers every GET with {"path", "headers"} as JSON; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the proxies -----------------------------------------------------------------------------


def documented(name: str, language: str) -> str:
    """The first ```LANGUAGE block of docs/proxies/NAME.md: the snippet the tests run."""
    text = (DOCS / f"{name}.md").read_text()
    match = re.search(rf"^```{language}\n(.*?)^```", text, re.M | re.S)
    assert match, f"docs/proxies/{name}.md has no ```{language} block"
    return match.group(1)


def substitute(text: str, replacements: Mapping[str, str]) -> str:
    """Replace each documented value with this run's; every one must occur, so that an edit of
    the documentation that the tests no longer understand fails loudly."""
    for old, new in replacements.items():
        assert old in text, f"the documented snippet no longer contains {old!r}"
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Proxy:
    """A running proxy serving APP_HOST and SIGNIN_HOST over TLS at 127.0.0.1:port."""

    port: int
    pki: Pki


@dataclass
class Browser:
    """A browser at address `ip`, on the managed device (with its client certificate) or not,
    reaching https://APP_HOST and https://SIGNIN_HOST through `proxy`. It keeps the cookies
    it is given for *.demo.test, and reaches the proxy from `source` (the load balancer the
    proxy trusts, unless told otherwise)."""

    proxy: Proxy
    ip: str
    device: bool = False
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    url: str = ""  # the last address asked for, as a browser's current page

    def __post_init__(self) -> None:
        self.cookies = dict(self.cookies)  # another browser's cookies, copied

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        self.url = url
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname in {APP_HOST, SIGNIN_HOST}, url
        sent = {
            "Host": parts.netloc,
            "Accept": "text/html,application/xhtml+xml",
            "X-Forwarded-For": self.ip,
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        context = ssl.create_default_context(cafile=str(self.proxy.pki.ca))
        if self.device:
            context.load_cert_chain(self.proxy.pki.device_cert, self.proxy.pki.device_key)
        transport = httpx.HTTPTransport(verify=context, local_address=self.source)
        target = urlunsplit(("https", f"127.0.0.1:{self.proxy.port}", parts.path, parts.query, ""))
        with httpx.Client(transport=transport, timeout=30) as http:
            response = http.request(
                method,
                target,
                headers=sent,
                extensions={"sni_hostname": parts.hostname},
                **kwargs,
            )
        for header in response.headers.get_list("set-cookie"):
            self._remember(header)
        return response

    def _remember(self, header: str) -> None:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            domain = morsel["domain"].lstrip(".")
            assert not domain or f".{SIGNIN_HOST}".endswith(f".{domain}"), header
            if morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def follow(self, response: httpx.Response) -> httpx.Response:
        """GET where the redirect just answered points to."""
        assert response.is_redirect, (response.status_code, response.text[:500])
        return self.get(urljoin(self.url, response.headers["location"]))

    def sign_in(self, username: str, headers: Mapping[str, str] | None = None) -> dict:
        """A password sign-in through the proxy to Gatehouse's API; the flow's state."""
        response = self.post(
            f"https://{SIGNIN_HOST}/api/v1/signin",
            json={"username": username, "password": PASSWORD},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def add_authenticator_app(self) -> str:
        """Register an authenticator app through the security-info API; its secret."""
        methods = f"https://{SIGNIN_HOST}/api/v1/me/methods/totp"
        started = self.post(methods, json={"name": "Phone"})
        assert started.status_code == 201, started.text
        secret = started.json()["secret"]
        # The previous step's code, so that the current one is still unused for a sign-in.
        code = pyotp.TOTP(secret).at(time.time() - 30)
        confirmed = self.post(f"{methods}/{started.json()['id']}/confirm", json={"code": code})
        assert confirmed.status_code == 200, confirmed.text
        return secret

    def step_up(self, refused: httpx.Response, secret: str) -> httpx.Response:
        """From the proxy's redirect to the sign-in page, through the second-factor page (a
        form with its CSRF token), to Gatehouse's redirect back to the app."""
        flow = self.follow(refused)
        assert flow.status_code == 302 and "/signin/" in flow.headers["location"], flow.text
        page = self.follow(flow)
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the second-factor page carries no CSRF token"
        form = {"csrfmiddlewaretoken": token.group(1), "method": "totp"}
        return self.post(self.url, data={**form, "code": pyotp.TOTP(secret).now()})


def _wait_for_port(port: int, process: subprocess.Popen, log: Callable[[], str], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}:\n{log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} in time:\n{log()}")


@contextlib.contextmanager
def _running(
    name: str,
    command: Sequence[str],
    folder: Path,
    port: int,
    pki: Pki,
    env: Mapping[str, str] | None = None,
) -> Iterator[Proxy]:
    log_path = folder / f"{name}.out"

    def log() -> str:
        logs = (log_path, folder / "error.log")  # nginx writes the second
        return "".join(p.read_text(errors="replace") for p in logs if p.exists())

    with log_path.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(port, process, log, name)
        yield Proxy(port, pki)
    finally:
        stop_process(process)


# What Debian's /etc/nginx/nginx.conf provides, in the test's folder, and (test only: the
# realip lines) nginx behind the load balancer the test client plays on 127.0.0.1, taking the
# browser's address from its X-Forwarded-For as behind a real one. At the edge these two lines
# are left out and $remote_addr is the peer.
NGINX_MAIN = """\
load_module {njs};
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;

    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    include {folder}/{sites};
}}
"""


@contextlib.contextmanager
def _nginx_serving(
    folder: Path, pki: Pki, port: int, files: Mapping[str, str], sites: str
) -> Iterator[Proxy]:
    """Debian's nginx on 127.0.0.1:port with `files` (relative path -> text) written in
    `folder`, and NGINX_MAIN including the site files matching `sites`."""
    binary = require_nginx()
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    config = folder / "nginx.conf"
    config.write_text(NGINX_MAIN.format(njs=NJS_MODULE, folder=folder, sites=sites))
    command = [binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, f"nginx -t refused the configuration:\n{checked.stderr}"
    with _running("nginx", command, folder, port, pki) as proxy:
        yield proxy


@contextlib.contextmanager
def nginx(
    folder: Path, pki: Pki, gatehouse_port: int, upstream_port: int, port: int | None = None
) -> Iterator[Proxy]:
    """Debian's nginx running docs/proxies/nginx.md's configuration for APP_HOST, on `port`
    (a free one unless given)."""
    port = port or free_port()
    script = folder / "gatehouse.js"
    site = substitute(
        documented("nginx", "nginx"),
        {
            "/etc/nginx/gatehouse.js": str(script),
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            f"/etc/nginx/tls/{DOC_SIGNIN_HOST}.pem": str(pki.server_cert),
            f"/etc/nginx/tls/{DOC_SIGNIN_HOST}.key": str(pki.server_key),
            f"/etc/nginx/tls/{DOC_APP_HOST}.pem": str(pki.server_cert),
            f"/etc/nginx/tls/{DOC_APP_HOST}.key": str(pki.server_key),
            "/etc/nginx/tls/devices-ca.pem": str(pki.ca),
            DOC_SIGNIN_HOST: SIGNIN_HOST,
            DOC_APP_HOST: APP_HOST,
            DOC_GATEHOUSE: f"127.0.0.1:{gatehouse_port}",
            DOC_UPSTREAM: f"127.0.0.1:{upstream_port}",
        },
    )
    files = {script.name: documented("nginx", "js"), "gatehouse-site.conf": site}
    with _nginx_serving(folder, pki, port, files, "gatehouse-site.conf") as proxy:
        yield proxy


def substitute_all(files: Mapping[str, str], replacements: Mapping[str, str]) -> dict[str, str]:
    """substitute() over several files: each value replaced must occur in one of them."""
    for old in replacements:
        assert any(old in text for text in files.values()), f"no file contains {old!r} any more"
    replaced = {}
    for name, text in files.items():
        for old, new in replacements.items():
            text = text.replace(old, new)
        replaced[name] = text
    return replaced


@contextlib.contextmanager
def authelia_nginx(
    folder: Path, pki: Pki, gatehouse_port: int, upstream_port: int
) -> Iterator[Proxy]:
    """Debian's nginx running Authelia's published snippets (tests/e2e/authelia_snippets.py)
    for APP_HOST, with nothing added: no client certificates, no device header."""
    port = free_port()
    files = substitute_all(
        authelia_snippets.NGINX_FILES,
        {
            "/config/nginx/snippets/": f"{folder}/snippets/",
            "/config/nginx/tls/server.pem": str(pki.server_cert),
            "/config/nginx/tls/server.key": str(pki.server_key),
            "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl;",
            "listen 80;": f"listen 127.0.0.1:{free_port()};",
            "auth.*": f"{SIGNIN_HOST.split('.')[0]}.*",
            "nextcloud.*": f"{APP_HOST.split('.')[0]}.*",
            "http://authelia:9091": f"http://127.0.0.1:{gatehouse_port}",
            "http://nextcloud;": f"http://127.0.0.1:{upstream_port};",
        },
    )
    with _nginx_serving(folder, pki, port, files, "site-confs/*.conf") as proxy:
        yield proxy


# Test only: no admin API and no certificates from the internet.
CADDY_GLOBAL = """\
{
	admin off
	auto_https off
}

"""
# Test only: sites on loopback, with the PKI's certificate, and the test client (the load
# balancer on 127.0.0.1) trusted for X-Forwarded-For by both proxies to Gatehouse. Caddy 2.6
# (Debian 12) has trusted_proxies per proxy only; later versions also as a server option.
TRUST_BALANCER = "trusted_proxies 127.0.0.1/32"


@contextlib.contextmanager
def _caddy_serving(folder: Path, pki: Pki, port: int, caddyfile: str) -> Iterator[Proxy]:
    binary = require_caddy()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "Caddyfile"
    config.write_text(CADDY_GLOBAL + caddyfile)
    command = [binary, "run", "--config", str(config), "--adapter", "caddyfile"]
    # Caddy keeps state under $HOME / XDG folders: keep them in the test's folder.
    home = {"HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    with _running("caddy", command, folder, port, pki, env=home) as proxy:
        yield proxy


def _caddy_site(host: str, port: int) -> str:
    """A documented site's first line, made a loopback site of this run."""
    return f"https://{host}:{port} {{\n\tbind 127.0.0.1"


@contextlib.contextmanager
def caddy(folder: Path, pki: Pki, gatehouse_port: int, upstream_port: int) -> Iterator[Proxy]:
    """Debian's Caddy running docs/proxies/caddy.md's Caddyfile for APP_HOST."""
    port = free_port()
    gatehouse_site, forward_auth = (
        f"reverse_proxy {DOC_GATEHOUSE}\n",
        "uri /api/authz/forward-auth",
    )
    site = substitute(
        documented("caddy", "caddyfile"),
        {
            f"{DOC_SIGNIN_HOST} {{": _caddy_site(SIGNIN_HOST, port),
            f"{DOC_APP_HOST} {{": _caddy_site(APP_HOST, port),
            "\ttls {": f"\ttls {pki.server_cert} {pki.server_key} {{",
            "/etc/caddy/devices-ca.pem": str(pki.ca),
            gatehouse_site: f"{gatehouse_site.strip()} {{\n\t\t\t{TRUST_BALANCER}\n\t\t}}\n",
            forward_auth: f"{forward_auth}\n\t\t\t{TRUST_BALANCER}",
            DOC_GATEHOUSE: f"127.0.0.1:{gatehouse_port}",
            DOC_UPSTREAM: f"127.0.0.1:{upstream_port}",
        },
    )
    with _caddy_serving(folder, pki, port, site) as proxy:
        yield proxy


@contextlib.contextmanager
def authelia_caddy(
    folder: Path, pki: Pki, gatehouse_port: int, upstream_port: int
) -> Iterator[Proxy]:
    """Debian's Caddy running Authelia's published Caddyfile (tests/e2e/authelia_snippets.py)
    for APP_HOST, with only this run's TLS and the test's load balancer added."""
    port = free_port()
    tls = f"\n\ttls {pki.server_cert} {pki.server_key}"
    site = substitute(
        authelia_snippets.CADDYFILE,
        {
            "auth.example.com {": _caddy_site(SIGNIN_HOST, port) + tls,
            "nextcloud.example.com {": _caddy_site(APP_HOST, port) + tls,
            "reverse_proxy authelia:9091\n": (
                f"reverse_proxy 127.0.0.1:{gatehouse_port} {{\n\t\t{TRUST_BALANCER}\n\t}}\n"
            ),
            "forward_auth authelia:9091 {": (
                f"forward_auth 127.0.0.1:{gatehouse_port} {{\n\t\t{TRUST_BALANCER}"
            ),
            "reverse_proxy nextcloud:80": f"reverse_proxy 127.0.0.1:{upstream_port}",
        },
    )
    with _caddy_serving(folder, pki, port, site) as proxy:
        yield proxy


STARTERS = {
    "nginx": (require_nginx, nginx),
    "caddy": (require_caddy, caddy),
    "authelia-nginx": (require_nginx, authelia_nginx),
    "authelia-caddy": (require_caddy, authelia_caddy),
}


@contextlib.contextmanager
def webmail_behind(name: str, folder: Path) -> Iterator[Proxy]:
    """The proxy `name` (a key of STARTERS) serving the upstream app as APP_HOST and
    Gatehouse as SIGNIN_HOST, with protected_webmail() behind it."""
    required, start = STARTERS[name]
    required()  # before anything starts
    pki = Pki.create(folder / "pki")
    with (
        protected_webmail(folder / "gatehouse", pki) as server,
        upstream() as upstream_port,
        start(folder / name, pki, server.port, upstream_port) as proxy,
    ):
        yield proxy


def proxy_check(proxy: Proxy, source: str = "127.0.0.2") -> subprocess.CompletedProcess[str]:
    """`gatehouse proxy-check` through `proxy`, of Gatehouse's own site and of the app, from
    `source`: by default an address the proxy does not trust as a load balancer, as a
    browser's would be."""
    hosts = (SIGNIN_HOST, APP_HOST)
    command = [liveserver.GATEHOUSE, "proxy-check", *(f"https://{h}:{proxy.port}/" for h in hosts)]
    for host in hosts:
        command += ["--resolve", f"{host}:{proxy.port}:127.0.0.1"]
    command += ["--cacert", str(proxy.pki.ca), "--source", source]
    return subprocess.run(
        command, env=liveserver.child_env(), capture_output=True, text=True, timeout=60, check=False
    )


CLAIMED_DEVICE = "X-Client-Cert-SHA256"
OWN_SITE, FORWARD_AUTH = "reached Gatehouse's own site", "reached a protected app's forward auth"


# --- what every proxy snippet must achieve ----------------------------------------------------

INBOX = f"https://{APP_HOST}/inbox?folder=1"
SIGNIN_PAGE = f"https://{SIGNIN_HOST}/signin?"


class BehindEveryProxy:
    """The end-to-end behaviour of forward auth (DESIGN §5.4) through a real proxy. A test
    class per proxy inherits these tests and its module provides the `proxy` fixture."""

    def test_anonymous_browser_is_redirected_to_sign_in(self, proxy: Proxy) -> None:
        response = Browser(proxy, HOME).get(INBOX)
        assert response.status_code == 302
        query = urlencode({"rd": INBOX, "rm": "GET"})
        assert response.headers["location"] == f"{SIGNIN_PAGE}{query}"

    def test_managed_device_at_a_trust_site_reaches_the_app_as_the_user(self, proxy: Proxy) -> None:
        browser = Browser(proxy, TRUST_SITE, device=True)
        assert browser.sign_in("ward-nurse")["status"] == "authenticated"
        # Identity headers a client sends itself never reach the app.
        forged = {"Remote-User": "admin", "Remote-Email": "admin@evil.test"}
        response = browser.get(INBOX, headers=forged)
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["path"] == "/inbox?folder=1"
        assert seen["headers"]["remote-user"] == "ward-nurse"
        assert seen["headers"]["remote-groups"] == "Staff"
        assert seen["headers"]["remote-name"] == "Wendy Ward"
        assert seen["headers"]["remote-email"] == "ward-nurse@demo.test"
        # The certificate is what makes the device managed: without it a second factor is due.
        assert Browser(proxy, TRUST_SITE, cookies=browser.cookies).get(INBOX).status_code == 302

    def test_from_home_without_mfa_is_sent_to_step_up_and_let_through_after_it(
        self, proxy: Proxy
    ) -> None:
        browser = Browser(proxy, TRUST_SITE, device=True)
        assert browser.sign_in("home-nurse")["status"] == "authenticated"
        secret = browser.add_authenticator_app()
        assert browser.get(INBOX).status_code == 200
        # The same browser session, taken home on a personal laptop: a second factor is due.
        browser.ip, browser.device = HOME, False
        refused = browser.get(INBOX)
        assert refused.status_code == 302
        assert refused.headers["location"].startswith(f"{SIGNIN_PAGE}rd=")
        before = browser.cookies[SESSION_COOKIE]

        done = browser.step_up(refused, secret)
        assert done.status_code == 302 and done.headers["location"] == INBOX
        assert browser.cookies[SESSION_COOKIE] != before, "the session id did not rotate"
        through = browser.follow(done)
        assert through.status_code == 200
        assert through.json()["headers"]["remote-user"] == "home-nurse"

    def test_policy_blocking_the_app_is_refused_with_403(self, proxy: Proxy) -> None:
        browser = Browser(proxy, TRUST_SITE, device=True)
        assert browser.sign_in("locum")["status"] == "authenticated"
        assert browser.get(INBOX).status_code == 403

    def test_a_browser_cannot_claim_a_trust_site_or_a_managed_device(self, proxy: Proxy) -> None:
        browser = Browser(proxy, TRUST_SITE, device=True)
        assert browser.sign_in("forging-nurse")["status"] == "authenticated"
        assert browser.get(INBOX).status_code == 200
        # With the certificate, but from an address the proxy does not trust to name the
        # client's: the proxy passes on the address it saw, not the trust site claimed.
        cookies = browser.cookies
        elsewhere = Browser(proxy, TRUST_SITE, device=True, source="127.0.0.2", cookies=cookies)
        assert elsewhere.get(INBOX).status_code == 302
        # At the trust site, without the certificate, sending its fingerprint: replaced.
        forger = Browser(proxy, TRUST_SITE, cookies=cookies)
        claimed = {CLAIMED_DEVICE: proxy.pki.device_fingerprint}
        assert forger.get(INBOX, headers=claimed).status_code == 302

    def test_a_password_alone_never_passes_for_a_managed_device_by_its_fingerprint(
        self, proxy: Proxy
    ) -> None:
        spoofer = Browser(proxy, TRUST_SITE)
        claimed = {CLAIMED_DEVICE: proxy.pki.device_fingerprint}
        state = spoofer.sign_in("spoofing-nurse", headers=claimed)
        assert state["status"] == "registration_required", state

    def test_whoami_shows_what_gatehouse_sees_through_the_proxy(self, proxy: Proxy) -> None:
        whoami = f"https://{SIGNIN_HOST}/api/v1/whoami"
        seen = Browser(proxy, TRUST_SITE, device=True).get(whoami).json()
        assert (seen["address"], seen["locations"], seen["trusted"]) == (
            TRUST_SITE,
            ["Trust sites"],
            True,
        )
        assert seen["device"]["kind"] == "managed" and seen["device"]["name"] == "Ward PC 7", seen
        assert seen["device_why"] == "the certificate of the managed device Ward PC 7"
        forged = {CLAIMED_DEVICE: proxy.pki.device_fingerprint, "Remote-User": "admin"}
        seen = Browser(proxy, HOME).get(whoami, headers=forged).json()
        assert (seen["address"], seen["trusted"]) == (HOME, False)
        assert (seen["device"]["kind"], seen["device"]["why"]) == ("personal", "no_certificate")
        assert seen["headers"]["Remote-User"] is None and seen["headers"][CLAIMED_DEVICE] is None, (
            seen
        )

    @pytest.mark.once
    def test_proxy_check_finds_nothing_forged_through_the_shipped_snippet(
        self, proxy: Proxy
    ) -> None:
        result = proxy_check(proxy)
        assert result.returncode == 0, result.stdout + result.stderr
        assert OWN_SITE in result.stdout and FORWARD_AUTH in result.stdout
        assert "FORGED" not in result.stdout
        assert result.stdout.count("ok      ") == 12  # 6 headers, through each of 2 sites
