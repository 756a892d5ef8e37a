"""A local FilBeam-compatible origin (or Curio storage provider) with latency, bandwidth caps and faults.

``python -m proxy.emulator --dir FOLDER [knobs]``: prints its base URL first on stdout, then one line per served
piece on stderr, and serves until SIGINT or SIGTERM (``shared/DESIGN.md``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path

from proxy.command_line import exit_status, log_to_stderr, serve_until_signalled
from proxy.emulator.curio import CURIO_CONCURRENCY
from proxy.emulator.filbeam import DEFAULT_OBJECT_CAP
from proxy.emulator.knobs import EDGE_FILL_MODES, MODES, Knobs
from proxy.emulator.origin import Emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m proxy.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="folder of files to serve")
    parser.add_argument("--mode", choices=MODES, default="filbeam")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="time to first byte (default 50 ms)")
    parser.add_argument("--bandwidth", type=int, help="bytes/s per connection")
    parser.add_argument("--total-bandwidth", type=int, help="bytes/s across all connections")
    parser.add_argument("--edge-fill", choices=EDGE_FILL_MODES, default="first-request")
    parser.add_argument("--miss-content-length", action="store_true", help="send Content-Length on a CDN miss")
    parser.add_argument("--drop-after", type=int, help="close each connection after N body bytes")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered with an error")
    parser.add_argument("--error-status", type=int, default=502)
    parser.add_argument("--quota-rate", type=float, default=0.0, help="fraction answered 402 quota exhausted")
    parser.add_argument("--not-found-rate", type=float, default=0.0, help="fraction answered 404 not indexed yet")
    parser.add_argument("--ignore-range", action="store_true", help="always 200 with the whole body")
    parser.add_argument("--wrong-content-range", action="store_true", help="announce a shifted Content-Range")
    parser.add_argument("--wrong-total", action="store_true", help="announce a wrong total size")
    parser.add_argument("--short-body", action="store_true", help="send half the body, then close")
    parser.add_argument("--etag-change", action="store_true", help="send a new ETag on every response")
    parser.add_argument("--stall-ms", type=float, default=0.0, help="extra wait before the first byte")
    parser.add_argument("--seed", type=int, help="seed for the fault dice")
    add_edge_arguments(parser)
    return parser


def add_edge_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags for FilBeam's edge and Curio's limit (``python -m proxy.emulator --help``)."""
    parser.add_argument(
        "--providers",
        type=int,
        default=1,
        help="storage providers per piece behind the CDN: each request picks one at random, and each has its own "
        "edge cache entry, so a piece misses (200 from byte 0) until every provider's entry is filled (default 1)",
    )
    parser.add_argument(
        "--object-cap",
        type=int,
        default=DEFAULT_OBJECT_CAP,
        help="the CDN never caches a piece larger than this many bytes: every request for it is a miss "
        f"(Cloudflare's 512 MB; default {DEFAULT_OBJECT_CAP})",
    )
    parser.add_argument(
        "--no-object-cap",
        dest="object_cap",
        action="store_const",
        const=None,
        help="cache pieces of any size at the edge (Cloudflare Enterprise's 5 GB, roughly)",
    )
    parser.add_argument(
        "--fill-cancelled-on-disconnect",
        action="store_true",
        help="a client that leaves a miss before its end cancels the edge fill (the next request misses again)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=CURIO_CONCURRENCY,
        help=f"curio mode: requests in flight above this get a 429 without Retry-After (Curio's {CURIO_CONCURRENCY})",
    )


async def _serve(args: argparse.Namespace) -> None:
    knob_names = {f.name for f in fields(Knobs)}
    knobs = Knobs(**{k: v for k, v in vars(args).items() if k in knob_names})
    emulator = Emulator(args.dir, knobs)

    def list_pieces(base: str) -> None:
        cids = emulator.piece_cids()
        if not cids:
            print(f"emulator: {args.dir} has no files to serve", file=sys.stderr)
        for cid in cids:
            piece = emulator.pieces[cid]
            print(f"{base}/{cid}  {piece.path.name}  {piece.size} bytes", file=sys.stderr, flush=True)

    await serve_until_signalled(lambda: emulator.start(args.host, args.port), emulator.stop, list_pieces)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(logging.INFO, "%(asctime)s %(levelname)s %(message)s")
    if not args.dir.is_dir():
        print(f"emulator: {args.dir} is not a folder", file=sys.stderr)
        return 2
    return exit_status(_serve(args), (ValueError,), lambda exc: f"emulator: {exc}")
