"""The conditional-access commands: devices, locations, policies export/import, whatif."""

import json

import pytest

from gatehouse.access import policies
from gatehouse.access.models import ManagedDevice
from gatehouse.audit.models import AuditEvent
from gatehouse.cli import main

pytestmark = pytest.mark.django_db
FP = "cd" * 32


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_devices_add_list_remove(capsys, alice):
    assert (
        run(capsys, "devices", "add", "--fingerprint", FP, "--name", "Ward PC", "--owner", "alice")[
            0
        ]
        == 0
    )
    code, out, _ = run(capsys, "devices", "list")
    assert FP in out and "owner=alice" in out and "compliant" in out
    code, _, err = run(capsys, "devices", "add", "--fingerprint", "nope", "--name", "X")
    assert code == 2 and "'nope' is not a SHA-256 fingerprint" in err
    assert (
        run(
            capsys, "devices", "add", "--fingerprint", "ef" * 32, "--name", "Old", "--noncompliant"
        )[0]
        == 0
    )
    assert not ManagedDevice.objects.get(name="Old").compliant
    assert run(capsys, "devices", "remove", FP)[0] == 0
    code, _, err = run(capsys, "devices", "remove", FP)
    assert code == 2 and "no device" in err
    assert AuditEvent.objects.filter(action="device.delete", actor__startswith="cli:").exists()


def test_devices_import_is_all_or_nothing(capsys, tmp_path, alice):
    path = tmp_path / "devices.csv"
    path.write_text(
        f"fingerprint,name,owner,compliant\n{FP},Ward PC,alice,true\n{'ab' * 32},Bad,nobody,true\n"
    )
    code, _, err = run(capsys, "devices", "import", str(path))
    assert code == 2 and "line 3: owner 'nobody' is not a user" in err
    assert not ManagedDevice.objects.exists()
    path.write_text(
        f"fingerprint,name,owner,compliant\n{FP},Ward PC,alice,true\n{'ab' * 32},Kiosk,,false\n"
    )
    assert run(capsys, "devices", "import", str(path))[1].strip().endswith("2 created, 0 updated")
    assert run(capsys, "devices", "import", str(path))[1].strip().endswith("0 created, 2 updated")


def test_locations_set_list_remove(capsys):
    code, _, err = run(capsys, "locations", "set", "HQ", "10.1.2.3/8", "--trusted")
    assert code == 2 and "did you mean 10.0.0.0/8" in err
    assert run(capsys, "locations", "set", "HQ", "10.0.0.0/8", "2001:db8::/32", "--trusted")[0] == 0
    assert "HQ  (trusted)  10.0.0.0/8, 2001:db8::/32" in run(capsys, "locations", "list")[1]
    assert run(capsys, "locations", "remove", "HQ")[0] == 0


@pytest.mark.parametrize("suffix", ["yaml", "toml"])
def test_policies_round_trip_through_files(capsys, tmp_path, suffix):
    first, second = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    assert run(capsys, "policies", "export", str(first))[0] == 0
    text = (
        first.read_text()
        .replace("state: 'off'", "state: report_only")
        .replace('state = "off"', 'state = "report_only"')
    )
    first.write_text(text)
    assert run(capsys, "policies", "import", str(first))[0] == 0
    assert {p.state for p in policies.stored()} == {"report_only"}
    run(capsys, "policies", "export", str(second))
    assert second.read_text() == first.read_text()


def test_policy_import_error_names_key_and_line_and_changes_nothing(capsys, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "policies:\n"
        "  - id: one\n"
        "    conditions:\n"
        "      users: {include: all}\n"
        "  - id: two\n"
        "    grant:\n"
        "      mode: sometimes\n"
    )
    before = policies.stored()
    code, _, err = run(capsys, "policies", "import", str(path))
    assert code == 2 and "nothing imported" in err and "line 7" in err and "grant.mode" in err
    assert policies.stored() == before


def test_policy_file_needs_a_known_suffix(capsys, tmp_path):
    code, _, err = run(capsys, "policies", "export", str(tmp_path / "p.json"))
    assert code == 2 and ".yaml, .yml or .toml" in err


def test_whatif_prints_decision_and_trace(capsys, alice, trust_sites):
    code, out, _ = run(capsys, "whatif", "--user", "alice", "--ip", "203.0.113.7", "--json")
    data = json.loads(out)
    assert data["decision"]["outcome"] == "allow"  # the default policies start off
    assert {e["result"] for e in data["decision"]["trace"]} == {"off"}
    code, out, _ = run(
        capsys, "whatif", "--user", "alice", "--ip", "10.1.1.1", "--action", "register"
    )
    assert "from Trust sites (trusted)" in out and "decision: allow" in out
    code, _, err = run(capsys, "whatif", "--user", "alice", "--ip", "10.1.1.1", "--device", "zzz")
    assert code == 2 and "--device" in err


def test_audit_verify(capsys):
    run(capsys, "locations", "set", "HQ", "10.0.0.0/8")
    assert run(capsys, "audit", "verify")[1].strip() == "audit trail intact"
