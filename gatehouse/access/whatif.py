"""What-If: how would the policies decide a sign-in? The very same `assess` as a real one."""

from __future__ import annotations

import ipaddress
from typing import Any

from gatehouse.access import devices
from gatehouse.access.decisions import Assessment, assess
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User

ACTIONS = ("signin", "register")
CLIENT_TYPES = ("browser", "modern", "legacy")


class WhatIfError(ValueError):
    pass


def what_if(
    username: str,
    ip: str,
    device: str = "personal",
    app: str = "",
    action: str = "signin",
    client_type: str = "browser",
) -> Assessment:
    user = User.objects.filter(username=normalise_username(username)).first()
    if user is None:
        raise WhatIfError(f"no user '{username}'")
    try:
        address = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise WhatIfError(f"'{ip}' is not an IP address") from None
    if action not in ACTIONS:
        raise WhatIfError(f"action '{action}' is not one of {', '.join(ACTIONS)}")
    if client_type not in CLIENT_TYPES:
        raise WhatIfError(f"client type '{client_type}' is not one of {', '.join(CLIENT_TYPES)}")
    if device == "personal":
        device_class = devices.classify(None)
    else:
        try:
            device_class = devices.classify(devices.normalise_fingerprint(device))
        except devices.DeviceError as exc:
            raise WhatIfError(f"--device: {exc}, or 'personal'") from None
    return assess(user, address, device_class, app, action, client_type)


def as_dict(assessment: Assessment) -> dict[str, Any]:
    context = assessment.context
    return {
        "context": {
            "user": context.username,
            "groups": sorted(context.groups),
            "app": context.app,
            "action": context.action,
            "locations": sorted(context.locations),
            "trusted": context.trusted,
            "device": assessment.device.to_dict(),
            "client_type": context.client_type,
        },
        "decision": assessment.decision.to_dict(),
    }


def as_text(assessment: Assessment) -> str:
    data = as_dict(assessment)
    context, decision = data["context"], data["decision"]
    where = ", ".join(context["locations"]) or "no named location"
    lines = [
        f"user {context['user']} ({', '.join(context['groups']) or 'no groups'}), "
        f"{context['action']} {context['app'] or '(any app)'}, {context['client_type']}",
        f"from {where} ({'trusted' if context['trusted'] else 'untrusted'}), "
        f"device {context['device']['kind']} ({context['device']['why']})",
        f"decision: {decision['outcome']}",
    ]
    if decision["blocked_by"]:
        lines.append(f"  blocked by: {', '.join(decision['blocked_by'])}")
    for group in decision["unmet"]:
        wanted = ", ".join(group["requirements"])
        lines.append(f"  {group['policy_id']} requires {group['mode']} of: {wanted}")
    if decision["message"]:
        lines.append(f"  message: {decision['message']}")
    lines.append("policies:")
    for entry in decision["trace"]:
        why = f"{entry['unmet_condition']}: {entry['detail']}" if entry["unmet_condition"] else ""
        grant = entry["grant_result"] or ""
        lines.append(f"  {entry['policy_id']:<48} {entry['result']:<24} {grant or why}".rstrip())
    return "\n".join(lines)
