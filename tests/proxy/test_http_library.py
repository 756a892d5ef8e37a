"""aiohttp imported with its CA bundle loading on a thread (``proxy.http_library``) still verifies every server.

Each case runs in a fresh interpreter, where aiohttp is not imported yet, with ``SSL_CERT_FILE`` naming a test
authority's certificate: OpenSSL's default bundle is then that file, as the system's is on a user's machine. A
real HTTPS server (aiohttp, a certificate made by ``openssl``) answers; the client is aiohttp's default verified
context, the one the proxy's upstream session uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command to make certificates"
)

_CLIENT = r"""
import asyncio, json, ssl, sys
assert "aiohttp" not in sys.modules
from proxy.http_library import aiohttp, wait_for_certificates, web
import aiohttp.connector as connector

async def main(cert, key):
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="hello"))
    runner = web.AppRunner(app)
    await runner.setup()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    wait_for_certificates()
    result = {"patched_after_import": "set_default_verify_paths" in vars(ssl.SSLContext)}
    try:
        async with aiohttp.ClientSession() as session, session.get(f"https://localhost:{port}/") as answer:
            result["answer"] = await answer.text()
    except aiohttp.ClientConnectorCertificateError as exc:
        result["refused"] = str(exc)
    result["unverified_mode"] = int(connector._SSL_CONTEXT_UNVERIFIED.verify_mode)
    await runner.cleanup()
    print(json.dumps(result))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _authority(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed authority ``name``: (certificate, key)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             "-keyout", str(key), "-out", str(cert))  # fmt: skip
    return cert, key


def _server_certificate(folder: Path, authority: tuple[Path, Path]) -> tuple[Path, Path]:
    """A certificate for ``localhost`` signed by ``authority``: (certificate, key)."""
    cert, key, request = folder / "server.pem", folder / "server.key", folder / "server.csr"
    extensions = folder / "server.ext"
    extensions.write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(request)
    )
    _openssl("x509", "-req", "-in", str(request), "-CA", str(authority[0]), "-CAkey", str(authority[1]),
             "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(cert))  # fmt: skip
    return cert, key


def _run_client(tmp_path: Path, trusted: Path, server: tuple[Path, Path]) -> dict:
    empty = tmp_path / "no-directory-of-authorities"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SSL_CERT_FILE": str(trusted), "SSL_CERT_DIR": str(empty)}
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, str(server[0]), str(server[1])],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_server_signed_by_a_trusted_authority_is_reached_once_the_bundle_has_loaded(tmp_path):
    authority = _authority(tmp_path, "trusted-authority")
    result = _run_client(tmp_path, authority[0], _server_certificate(tmp_path, authority))
    assert result.get("answer") == "hello", result
    assert result["patched_after_import"] is False  # ssl is left as it was found
    assert result["unverified_mode"] == 0  # ssl.CERT_NONE: the context that loads no authorities checks nothing


def test_a_server_signed_by_another_authority_is_still_refused(tmp_path):
    trusted = _authority(tmp_path, "trusted-authority")
    other = _authority(tmp_path, "other-authority")
    result = _run_client(tmp_path, trusted[0], _server_certificate(tmp_path, other))
    assert "answer" not in result, result
    assert "certificate verify failed" in result["refused"]
