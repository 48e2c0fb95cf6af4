"""``python -m payment_sandbox --liqpay PUBLIC:PRIVATE --wayforpay ACCOUNT:SECRET [--port 8090]``."""

from __future__ import annotations

import argparse

from payment_sandbox.server import serve


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = [v.split(":", 1) for v in values]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit("expected NAME:SECRET")
    return dict(pairs)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m payment_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--liqpay", action="append", default=[], metavar="PUBLIC:PRIVATE")
    parser.add_argument("--wayforpay", action="append", default=[], metavar="ACCOUNT:SECRET")
    args = parser.parse_args()
    serve(args.host, args.port, _pairs(args.liqpay), _pairs(args.wayforpay))


if __name__ == "__main__":
    main()
