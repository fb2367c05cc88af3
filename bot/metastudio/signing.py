"""AK/SK request signing (``SDK-HMAC-SHA256``), as Huawei's API gateway verifies it.

This mirrors ``huaweicloudsdkcore.signer.Signer`` step for step, and the tests hold it to that:
they sign the same requests with both and require identical signatures. It is pure (the time is
passed in) so that it can be checked without a clock or a network.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# A proxy may rewrite hop-by-hop headers, which would break a signature that covered them.
_NOT_SIGNED = frozenset({"connection", "keep-alive", "proxy-connection", "te", "upgrade"})


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Each segment percent-encoded, always ending in ``/`` (the gateway's rule)."""
    path = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def canonical_query(raw_query: str) -> str:
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def signable_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased name → stripped value of every header that gets signed."""
    return {
        name.lower(): value.strip()
        for name, value in headers
        if "_" not in name and name.lower() not in _NOT_SIGNED
    }


def payload_hash(body: bytes, content_type: str | None) -> str:
    if not body:
        return EMPTY_HASH
    if content_type_is_unsigned(content_type):
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def content_type_is_unsigned(content_type: str | None) -> bool:
    """The SDK leaves non-JSON payloads unsigned (and says so in ``X-Sdk-Content-Sha256``)."""
    if not content_type:
        return False
    return not content_type.startswith(("application/json", "application/bson"))


def authorization(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body_hash: str,
    ak: str,
    sk: str,
    when: datetime,
) -> str:
    """The ``Authorization`` value for a request whose ``headers`` already hold
    ``X-Sdk-Date`` and ``Host`` (as :func:`signable_headers` returns them)."""
    signed = sorted(headers)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "".join(f"{name}:{headers[name]}\n" for name in signed),
            ";".join(signed),
            body_hash,
        ]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, when.strftime(DATE_FORMAT), hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = hmac.new(sk.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(signed)}, Signature={signature}"
