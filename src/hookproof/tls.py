"""The certificates every hookproof client trusts: the checks' requests to a target, the reference senders,
``hookproof trigger``, ``replay`` and ``listen --forward-to``.

httpx's own choice (``httpx.create_ssl_context``): the CA file named by ``$SSL_CERT_FILE``, else the folder
named by ``$SSL_CERT_DIR``, else certifi's bundle of public CAs. So a staging receiver whose certificate an
internal CA signed is checked by pointing ``$SSL_CERT_FILE`` at that CA, as with any httpx client, and every
client here trusts the same servers: one built its own context from certifi alone before, and ignored the
variables. Certificates are always verified, and host names checked.

Loading a CA bundle costs 15-30 ms, so one context serves every connection while the variables stay the same
(an ``ssl.SSLContext`` is safe to share between threads). ``ssl`` is imported on first use: the reference
sender command, started once per delivery, pays for it only for an https URL.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

CA_FILE_ENV = "SSL_CERT_FILE"
CA_DIR_ENV = "SSL_CERT_DIR"
UNTRUSTED_HINT = f"a certificate of your own CA is trusted once ${CA_FILE_ENV} names that CA's file"


class TrustError(ValueError):
    """``$SSL_CERT_FILE`` or ``$SSL_CERT_DIR`` names what holds no CA certificate: no request can be verified."""


def client_context() -> ssl.SSLContext:
    """The context to wrap a client socket in (``context.wrap_socket(sock, server_hostname=host)``).

    A variable naming what cannot be read is a :class:`TrustError` that names the variable: the request fails
    with that sentence, not with an OpenSSL error about a file the user did not know was read."""
    cafile = os.environ.get(CA_FILE_ENV) or None
    return _context(cafile, None if cafile else os.environ.get(CA_DIR_ENV) or None)


@functools.cache
def _context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    import ssl

    if cafile is None and capath is None:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    name, value = (CA_FILE_ENV, cafile) if cafile is not None else (CA_DIR_ENV, capath)
    if capath is not None and not os.path.isdir(capath):  # OpenSSL reads the folder at each handshake, silently
        raise TrustError(f"${name} names {value!r}, which is not a folder of CA certificates")
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise TrustError(f"${name} names {value!r}, which holds no CA certificate that can be read "
                         f"({exc.strerror or exc})") from None
