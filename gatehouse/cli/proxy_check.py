"""`gatehouse proxy-check`: does the reverse proxy overwrite forged headers."""

from __future__ import annotations

import argparse

from gatehouse.cli.base import Add, CommandError, Findings, port


def register(add: Add) -> None:
    check_help = (
        "Send requests through your reverse proxy with a forged X-Forwarded-For, managed-device "
        "header and Remote-* identity headers, and report any that reached Gatehouse unchanged "
        "(exit 1 then). URL: Gatehouse's own site or an app it protects, as a browser reaches "
        "them; run it from where a browser would be (docs/proxies/)."
    )
    proxy_check = add("proxy-check", cmd_proxy_check, check_help)
    proxy_check.add_argument("urls", nargs="+", metavar="URL")
    proxy_check.add_argument(
        "--resolve",
        action="append",
        type=_resolve,
        metavar="HOST:PORT:ADDRESS",
        help="connect to ADDRESS for HOST:PORT (as curl's --resolve)",
    )
    proxy_check.add_argument("--cacert", metavar="FILE", help="CA certificates to verify with")
    proxy_check.add_argument("--source", metavar="ADDRESS", help="local address to connect from")


def cmd_proxy_check(args: argparse.Namespace) -> None:
    from gatehouse import proxycheck

    connection = proxycheck.Connection(
        resolve=dict(args.resolve or []), cafile=args.cacert, source=args.source
    )
    forged = 0
    for url in args.urls:
        try:
            report = proxycheck.check(url, connection)
        except proxycheck.ProxyCheckError as exc:
            raise CommandError(str(exc)) from None
        print("\n".join(report.lines()))
        forged += len(report.failed)
    if forged:
        raise Findings(f"{forged} forged headers reached Gatehouse unchanged (docs/proxies/)")
    print("every forged header was replaced or removed on the way")


def _resolve(text: str) -> tuple[str, str]:
    import ipaddress

    host, _, rest = text.partition(":")
    number, _, address = rest.partition(":")
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT:ADDRESS") from None
    return f"{host.lower()}:{port(number)}", address.strip("[]")
