"""``python -m proxy`` / ``pieceplayer-proxy``: run the range proxy from the command line.

Contract (kept stable for other tools): the base URL, token included, no trailing slash, is the **first line on
stdout**, flushed; logs go to stderr; SIGINT/SIGTERM exit cleanly with status 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from proxy.cache import DEFAULT_DISK_CAP, DEFAULT_MEMORY_CAP, DEFAULT_READAHEAD, DEFAULT_SLICE_SIZE
from proxy.command_line import exit_status, log_to_stderr, serve_until_signalled
from proxy.config import default_cache_dir
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import Source, filbeam_source, provider_source, template_source

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text: str) -> int:
    """``1048576``, ``64M``, ``2G``, ``1.5GiB`` → bytes (binary units)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in _UNITS and not value[-1:].isdigit() else ""
    number = value[: len(value) - len(unit)] if unit else value
    try:
        result = int(float(number) * _UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte size: {text!r} (try 1048576, 64M or 2G)") from None
    if result <= 0:
        raise argparse.ArgumentTypeError(f"a byte size must be positive: {text!r}")
    return result


def _repeatable(parser: argparse.ArgumentParser, flag: str, metavar: str, help_text: str) -> None:
    """A flag that may be given several times; its values, in order, are a list (empty when never given)."""
    parser.add_argument(flag, action="append", default=[], metavar=metavar, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pieceplayer-proxy",
        description="Serve Filecoin pieces by byte range from a local slice cache, pulling only what is missing.",
    )
    _repeatable(parser, "--upstream", "TEMPLATE", "an upstream URL containing {cid}; several are tried in order")
    parser.add_argument("--filbeam-payer", metavar="ADDR", help="use the FilBeam CDN of this payer wallet (0x…)")
    parser.add_argument("--network", choices=["mainnet", "calibration"], default="mainnet")
    _repeatable(parser, "--provider", "URL", "a storage provider's service URL (pieces at URL/piece/{cid})")
    _repeatable(
        parser,
        "--allow-redirect-host",
        "HOST[:PORT]",
        "a host upstreams may redirect to besides their own (by default redirects stay on the source's host)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache folder (default: the user cache dir)")
    parser.add_argument("--cache-size", type=parse_bytes, default=DEFAULT_DISK_CAP, help="disk cache cap")
    parser.add_argument("--memory-cache", type=parse_bytes, default=DEFAULT_MEMORY_CAP, help="RAM cache cap")
    parser.add_argument("--slice-size", type=parse_bytes, default=DEFAULT_SLICE_SIZE, help="cache slice size")
    parser.add_argument(
        "--readahead", type=parse_bytes, default=DEFAULT_READAHEAD, help="bytes fetched ahead of an open-ended reader"
    )
    parser.add_argument("--no-token", action="store_true", help="serve without the random path token")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def sources_from_args(args: argparse.Namespace) -> list[Source]:
    """FilBeam first (fast first byte), then storage providers, then templates, each in the order given."""
    sources: list[Source] = []
    if args.filbeam_payer:
        sources.append(filbeam_source(args.filbeam_payer, args.network))
    sources.extend(provider_source(url) for url in args.provider)
    sources.extend(template_source(t) for t in args.upstream)
    return sources


async def serve(config: ProxyConfig) -> None:
    server = ProxyServer(config)
    await serve_until_signalled(server.start, server.stop)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_to_stderr(logging.DEBUG if args.verbose else logging.INFO)
    try:
        sources = sources_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    if not sources:
        parser.error("give at least one upstream: --upstream TEMPLATE, --filbeam-payer ADDR or --provider URL")
    config = ProxyConfig(
        sources=sources,
        cache_dir=args.cache_dir or default_cache_dir(),
        host=args.host,
        port=args.port,
        token="" if args.no_token else None,
        redirect_hosts=tuple(args.allow_redirect_host),
        cache={
            "slice_size": args.slice_size,
            "memory_cap": args.memory_cache,
            "disk_cap": args.cache_size,
            "readahead": args.readahead,
        },
    )
    where = f"{args.host}:{args.port}"
    return exit_status(
        serve(config), (OSError,), lambda exc: f"pieceplayer-proxy: cannot listen on {where}: {exc.strerror or exc}"
    )


if __name__ == "__main__":
    sys.exit(main())
