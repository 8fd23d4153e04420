"""Real directory servers for the tests and bench/directory.py: Debian's OpenLDAP `slapd` and
Samba's Active Directory domain controller, each started on loopback from a folder the tests
write, with certificates from a test CA, and stopped afterwards.

slapd: cn=config made with slapadd (mdb, the memberof and ppolicy overlays), listening on a
free port for ldap:// (StartTLS) and another for ldaps://. Samba: `samba-tool domain provision`
into the folder and `samba` in the foreground, running only its LDAP server. Samba's LDAP ports
are fixed (389, 636), so it gets a loopback address of its own (127.x.y.z) where they are free."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap
import ldap.modlist
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SAMBA = Path("/usr/sbin/samba")
SAMBA_TOOL = Path("/usr/bin/samba-tool")
# Samba's own Python (Debian's python3-samba), for what only its database API can do.
SAMBA_PYTHON = Path("/usr/bin/python3")
START_TIMEOUT = 60.0


def missing(*programs: Path) -> str | None:
    """Why the tests cannot run these servers here (None: they can)."""
    absent = [str(program) for program in programs if not program.exists()]
    if absent:
        return f"{', '.join(absent)} missing: `make system-deps` (as root) installs them"
    return None


# --- a test CA -------------------------------------------------------------------------------


@dataclass
class TestCA:
    folder: Path
    key: ec.EllipticCurvePrivateKey = field(init=False)
    cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse test CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def path(self) -> Path:
        return self.folder / "ca.pem"

    def issue(self, name: str, addresses: Iterable[str]) -> tuple[Path, Path]:
        """A server certificate and key (PEM files) for these IP addresses and `localhost`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        alt_names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def connect(url: str, ca: Path, dn: str, password: str) -> ldap.ldapobject.LDAPObject:
    """An administrator's connection, for the tests to change the directory with."""
    connection = ldap.initialize(url)
    connection.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    connection.set_option(ldap.OPT_REFERRALS, 0)
    connection.set_option(ldap.OPT_X_TLS_CACERTFILE, str(ca))
    connection.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    if url.startswith("ldap://"):
        connection.start_tls_s()
    connection.simple_bind_s(dn, password)
    return connection


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_for_port(host: str, port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{host}:{port} did not answer in {START_TIMEOUT:.0f}s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


# --- OpenLDAP slapd --------------------------------------------------------------------------

SUFFIX = "dc=northwind,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=gatehouse,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
PEOPLE, GROUPS = f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
# pwdAccountLockedTime of an account an administrator locked (OpenLDAP ppolicy).
ADMINISTRATIVE_LOCK = "000001010000Z"

SLAPD_CONFIG = """\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {folder}/slapd.pid
olcTLSCACertificateFile: {ca}
olcTLSCertificateFile: {cert}
olcTLSCertificateKeyFile: {key}
olcSizeLimit: 500

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {folder}/data
olcSuffix: {suffix}
olcRootDN: {admin}
olcRootPW: {admin_password}
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: entryUUID eq
olcDbIndex: member eq
olcDbIndex: memberOf eq
olcDbIndex: modifyTimestamp eq
olcLimits: dn.exact="{service}" size=unlimited time=unlimited
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{service}" read by self read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={{1}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{1}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{suffix}
olcPPolicyUseLockout: TRUE
"""

BASE_ENTRIES = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Northwind Clinics
dc: northwind

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{SUFFIX}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: 50
pwdMustChange: TRUE

dn: cn=expires-at-once,ou=policies,{SUFFIX}
objectClass: device
objectClass: pwdPolicy
cn: expires-at-once
pwdAttribute: userPassword
pwdMaxAge: 60
pwdGraceAuthNLimit: 0

dn: {SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: gatehouse
userPassword: {SERVICE_PASSWORD}
"""


def person(
    uid: str,
    password: str,
    name: str = "",
    groups: Iterable[str] = (),
    department: str = "",
    extra: Iterable[str] = (),
) -> str:
    """One inetOrgPerson in LDIF (for slapadd: memberOf written here, as the overlay would)."""
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {name or uid}",
        f"sn: {(name or uid).split()[-1]}",
        f"mail: {uid}@northwind.test",
        f"userPassword: {password}",
        f"employeeNumber: E{uid}",
    ]
    if department:
        lines.append(f"departmentNumber: {department}")
    lines += [f"memberOf: cn={group},{GROUPS}" for group in groups]
    lines += list(extra)
    return "\n".join(lines) + "\n"


def group(name: str, members: Iterable[str], member_of: Iterable[str] = ()) -> str:
    """A groupOfNames; `members` are DNs."""
    lines = [f"dn: cn={name},{GROUPS}", "objectClass: groupOfNames", f"cn: {name}"]
    lines += [f"member: {dn}" for dn in members] or [f"member: {ADMIN_DN}"]
    lines += [f"memberOf: cn={parent},{GROUPS}" for parent in member_of]
    return "\n".join(lines) + "\n"


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


@dataclass
class _Server:
    """A directory server the tests run: stopped, administered, and described as a source."""

    folder: Path
    ca: TestCA
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def admin(self) -> ldap.ldapobject.LDAPObject:
        raise NotImplementedError

    @contextlib.contextmanager
    def administering(self) -> Iterator[ldap.ldapobject.LDAPObject]:
        admin = self.admin()
        try:
            yield admin
        finally:
            admin.unbind_s()

    def _source(self, name: str, kind: str, bind: tuple[str, str], base: str, **settings) -> dict:
        """A [[directory.ldap]] table for this server over ldaps://, with its password."""
        return {
            "name": name,
            "kind": kind,
            "urls": [self.ldaps_url],
            "ca_file": str(self.ca.path),
            "bind_dn": bind[0],
            "bind_password": bind[1],
            "user_base": base,
            **settings,
        }

    @property
    def ldaps_url(self) -> str:
        raise NotImplementedError


@dataclass
class Slapd(_Server):
    """slapd serving SUFFIX; `entries` (LDIF) are loaded with slapadd before it starts."""

    port: int = 0
    tls_port: int = 0

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def create(self, entries: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for sub in ("config", "data"):
            shutil.rmtree(self.folder / sub, ignore_errors=True)
            (self.folder / sub).mkdir()
        cert, key = self.ca.issue("slapd", ["127.0.0.1"])
        schemas = "\n".join(f"include: file:///etc/ldap/schema/{s}.ldif" for s in SCHEMAS)
        config = SLAPD_CONFIG.format(
            folder=self.folder,
            ca=self.ca.path,
            cert=cert,
            key=key,
            schemas=schemas,
            suffix=SUFFIX,
            admin=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            service=SERVICE_DN,
        )
        self._slapadd("0", config)
        self._slapadd("1", BASE_ENTRIES + "\n" + entries)

    def _slapadd(self, database: str, ldif: str) -> None:
        path = self.folder / f"load-{database}.ldif"
        path.write_text(ldif)
        command = [SLAPADD, "-q", "-n", database, "-F", self.folder / "config", "-l", path]
        subprocess.run(command, check=True, capture_output=True, timeout=600)
        path.unlink()

    def start(self) -> None:
        self.port, self.tls_port = free_port(), free_port()
        log = self.folder / "slapd.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    SLAPD,
                    "-d",
                    "0",
                    "-F",
                    self.folder / "config",
                    "-h",
                    f"{self.url}/ {self.ldaps_url}/",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port("127.0.0.1", self.port, self.process, log)
        _wait_for_port("127.0.0.1", self.tls_port, self.process, log)

    def admin(self) -> ldap.ldapobject.LDAPObject:
        return connect(self.ldaps_url, self.ca.path, ADMIN_DN, ADMIN_PASSWORD)

    def source(self, name: str = "northwind", **settings) -> dict:
        bind = (SERVICE_DN, SERVICE_PASSWORD)
        options = {"group_base": GROUPS, "timeout": "3s", **settings}
        return self._source(name, "openldap", bind, PEOPLE, **options)


@contextlib.contextmanager
def running_slapd(folder: Path, entries: str) -> Iterator[Slapd]:
    reason = missing(SLAPD, SLAPADD)
    if reason:
        raise RuntimeError(reason)
    server = Slapd(folder, TestCA(folder / "ca"))
    server.create(entries)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- Samba Active Directory domain controller ------------------------------------------------

REALM, DOMAIN = "NORTHWIND.TEST", "NORTHWIND"
AD_BASE = "DC=northwind,DC=test"
AD_USERS = f"CN=Users,{AD_BASE}"
AD_ADMIN = f"Administrator@{REALM.lower()}"
AD_ADMIN_PASSWORD = "Adm1n-Passw0rd!"
AD_PASSWORD = "Passw0rd-Staff1"
AD_SERVICE = f"CN=svc-gatehouse,{AD_USERS}"
AD_SERVICE_PASSWORD = "Serv1ce-Passw0rd!"
FILETIME_2012 = "129700000000000000"


def free_loopback_address() -> str:
    """A 127.x.y.z where nothing listens on 389 or 636 (Samba's LDAP ports)."""
    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        try:
            for port in (389, 636):
                with socket.socket() as sock:
                    sock.bind((address, port))
        except OSError:
            continue
        return address
    raise RuntimeError("no free loopback address for Samba")


@dataclass
class SambaDC(_Server):
    address: str = ""

    @property
    def config(self) -> Path:
        return self.folder / "etc" / "smb.conf"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}"

    @property
    def url(self) -> str:
        return f"ldap://{self.address}"

    def provision(self) -> None:
        self.address = free_loopback_address()
        cert, key = self.ca.issue("samba", [self.address])
        run_folder = self.folder / "run"
        run_folder.mkdir(parents=True, exist_ok=True)
        options = {
            "interfaces": f"{self.address}/8",
            "bind interfaces only": "yes",
            "server services": "ldap",
            "pid directory": str(run_folder),
            "log file": str(self.folder / "log.%m"),
            "tls enabled": "yes",
            "tls keyfile": str(key),
            "tls certfile": str(cert),
            "tls cafile": str(self.ca.path),
        }
        command = [
            str(SAMBA_TOOL),
            "domain",
            "provision",
            f"--targetdir={self.folder}",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--adminpass={AD_ADMIN_PASSWORD}",
            "--host-name=dc1",
            *(f"--option={name}={value}" for name, value in options.items()),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=300)

    def start(self) -> None:
        log = self.folder / "samba.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [SAMBA, "--foreground", "--debug-stdout", "-M", "single", "-s", self.config],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(self.address, 636, self.process, log)

    def admin(self) -> ldap.ldapobject.LDAPObject:
        return connect(self.ldaps_url, self.ca.path, AD_ADMIN, AD_ADMIN_PASSWORD)

    def add_user(self, name: str, password: str = AD_PASSWORD, **attributes: bytes | str) -> str:
        dn = f"CN={name},{AD_USERS}"
        values = {
            "objectClass": [b"top", b"person", b"organizationalPerson", b"user"],
            "sAMAccountName": [name.encode()],
            "userPrincipalName": [f"{name}@{REALM.lower()}".encode()],
            "displayName": [name.title().encode()],
            "mail": [f"{name}@northwind.test".encode()],
            "unicodePwd": [f'"{password}"'.encode("utf-16-le")],
            "userAccountControl": [b"512"],
        }
        for key, value in attributes.items():
            values[key] = [value if isinstance(value, bytes) else value.encode()]
        with self.administering() as admin:
            admin.add_s(dn, ldap.modlist.addModlist(values))
        return dn

    def add_group(self, name: str, members: Iterable[str]) -> str:
        dn = f"CN={name},{AD_USERS}"
        values = {
            "objectClass": [b"top", b"group"],
            "sAMAccountName": [name.encode()],
            "member": [m.encode() for m in members],
        }
        with self.administering() as admin:
            admin.add_s(dn, ldap.modlist.addModlist(values))
        return dn

    def modify(self, dn: str, changes: list[tuple[int, str, list[bytes] | None]]) -> None:
        with self.administering() as admin:
            admin.modify_s(dn, changes)

    def backdate_password(self, dn: str, filetime: str = FILETIME_2012) -> None:
        """Set pwdLastSet to a date long past (only Samba's own database API may)."""
        script = (
            "import ldb, sys\n"
            "from samba.samdb import SamDB\n"
            "from samba.auth import system_session\n"
            "from samba.param import LoadParm\n"
            "lp = LoadParm(); lp.load(sys.argv[1])\n"
            "db = SamDB(url=sys.argv[2], session_info=system_session(), lp=lp)\n"
            "m = ldb.Message(); m.dn = ldb.Dn(db, sys.argv[3])\n"
            "m['pwdLastSet'] = ldb.MessageElement(sys.argv[4], ldb.FLAG_MOD_REPLACE, 'pwdLastSet')\n"
            # DSDB_CONTROL_DBCHECK: let the database tool write what LDAP may not.
            "db.modify(m, controls=['local_oid:1.3.6.1.4.1.7165.4.3.12:0'])\n"
        )
        sam = self.folder / "private" / "sam.ldb"
        subprocess.run(
            [SAMBA_PYTHON, "-c", script, self.config, sam, dn, filetime],
            check=True,
            capture_output=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )

    def source(self, name: str = "corp", **settings) -> dict:
        bind = (AD_SERVICE, AD_SERVICE_PASSWORD)
        return self._source(name, "active_directory", bind, AD_USERS, **settings)


@contextlib.contextmanager
def running_samba(folder: Path) -> Iterator[SambaDC]:
    reason = missing(SAMBA, SAMBA_TOOL)
    if reason:
        raise RuntimeError(reason)
    server = SambaDC(folder, TestCA(folder / "ca"))
    server.provision()
    server.start()
    try:
        server.add_user("svc-gatehouse", AD_SERVICE_PASSWORD)
        yield server
    finally:
        server.stop()


# --- the test directory ----------------------------------------------------------------------

NURSES = 300
PASSWORDS = {"ann": "ann-pass", "bob": "bob-pass", "exp": "exp-pass", "mc": "mc-pass"}
PASSWORDS["lk"] = "lk-pass"


def nurse(number: int) -> str:
    return f"nurse{number:03d}"


def northwind(nurses: int = NURSES) -> str:
    """A few hundred staff: ann and bob, nurses in wards (ward-7 inside wards), and people the
    directory's password policy refuses: exp (expired), mc (must change), lk (locked)."""
    wards = [nurse(i) for i in range(min(nurses, 10))]
    clinical = ["ann", *(nurse(i) for i in range(0, nurses, 2))]
    office = ["bob"]
    everyone = ["ann", "bob", "exp", "mc", "lk", *(nurse(i) for i in range(nurses))]
    entries = [
        person("ann", "ann-pass", "Ann Smith", ["staff", "clinical"], "Wards"),
        person("bob", "bob-pass", "Bob Jones", ["staff", "admin-office"], "Office"),
        person(
            "exp",
            "exp-pass",
            "Eve Expired",
            ["staff"],
            extra=[
                f"pwdPolicySubentry: cn=expires-at-once,ou=policies,{SUFFIX}",
                "pwdChangedTime: 20120101000000Z",
            ],
        ),
        person("mc", "mc-pass", "Max Change", ["staff"], extra=["pwdReset: TRUE"]),
        person(
            "lk", "lk-pass", "Lou Locked", ["staff"], extra=["pwdAccountLockedTime: 000001010000Z"]
        ),
    ]
    for i in range(nurses):
        name = nurse(i)
        groups = ["staff"] + (["clinical"] if i % 2 == 0 else []) + (["ward-7"] if i < 10 else [])
        entries.append(person(name, f"pw-{name}", f"Nurse {i}", groups, "Wards"))
    entries += [
        group("staff", [user_dn(u) for u in everyone]),
        group("clinical", [user_dn(u) for u in clinical]),
        group("admin-office", [user_dn(u) for u in office]),
        group("wards", [group_dn("ward-7")]),
        group("ward-7", [user_dn(u) for u in wards], member_of=["wards"]),
    ]
    return "\n".join(entries)
