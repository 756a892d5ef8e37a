"""aiohttp, imported once for the whole proxy, with its CA certificates loaded off the importing thread.

Why: importing aiohttp builds two TLS contexts (``aiohttp.connector._SSL_CONTEXT_VERIFIED`` and ``_UNVERIFIED``),
and each loads the system's whole CA bundle: about 35 ms apiece on the 2-core bench machine, 70–100 ms of a
window launch, on the GUI thread's path to the first frame. aiohttp offers no setting for it (it does it at import
on purpose, so no event loop ever blocks on the disk), so this module imports aiohttp with
``SSLContext.set_default_verify_paths`` standing in for a moment:

* the *verified* context's bundle loads on a thread of its own. OpenSSL's loading releases the GIL, so it runs
  beside the imports that follow instead of in front of them. :func:`wait_for_certificates` joins it, and the
  proxy calls that before it creates its client session (``Upstream._client``): no connection of the proxy's
  ever meets the context half-loaded. Anyone else who used that context in the ~40 ms before the load ends would
  be refused by every server (a verified context with no authority trusts nobody): it fails closed, never open.
* the *unverified* context loads nothing. It checks no certificate (``CERT_NONE``), so authorities in it are
  never consulted.

Every proxy module takes aiohttp from here, so whichever is imported first, aiohttp is imported this way (the
import contract in ``pyproject.toml`` keeps it so). If aiohttp was imported before, by someone else, nothing is
patched: its contexts loaded as aiohttp loads them, and there is nothing to wait for.
"""

from __future__ import annotations

import ssl
import sys
import threading

_METHOD = "set_default_verify_paths"
#: The loads started during aiohttp's import (one: the verified context's).
_loading: list[threading.Thread] = []


def _load_later(context: ssl.SSLContext) -> None:
    """Stands in for ``set_default_verify_paths`` while aiohttp is imported: see the module's docstring."""
    if context.verify_mode == ssl.CERT_NONE:  # aiohttp's unverified context: authorities it would never consult
        return
    real = super(ssl.SSLContext, context).set_default_verify_paths  # OpenSSL's own, past this stand-in
    load = threading.Thread(target=real, name="ca-certificates", daemon=True)
    _loading.append(load)
    load.start()


def _import_aiohttp() -> None:
    if "aiohttp" in sys.modules:
        return
    own = vars(ssl.SSLContext).get(_METHOD)  # None: the method is _ssl._SSLContext's, inherited
    setattr(ssl.SSLContext, _METHOD, _load_later)
    try:
        import aiohttp  # noqa: F401  (the import this module exists for)
    finally:
        if own is not None:
            setattr(ssl.SSLContext, _METHOD, own)
        else:
            delattr(ssl.SSLContext, _METHOD)


def wait_for_certificates() -> None:
    """Return once the CA bundle of aiohttp's verified context has loaded (at once if it has, or never started)."""
    for load in _loading:  # filled only while this module imports aiohttp; joining an ended load returns at once
        load.join()


_import_aiohttp()

import aiohttp  # noqa: E402  (imported above with the certificates loaded later; this only binds the name)
from aiohttp import web  # noqa: E402

__all__ = ["aiohttp", "wait_for_certificates", "web"]
