"""The signer's choices that a request signed and checked by the same rules cannot show: which
headers are signed and which bodies go unsigned. (Written against mutmut's survivors in
``bot/metastudio/signing.py``: the stand-in accepts either choice, as long as it is declared.)"""

from __future__ import annotations

import hashlib

import pytest

from bot.metastudio import signing


def test_hop_by_hop_headers_are_never_signed_whatever_their_case() -> None:
    headers = [
        ("Connection", "keep-alive"),
        ("KEEP-ALIVE", "timeout=5"),
        ("Proxy-Connection", "close"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("X_Underscored", "dropped"),
        ("Host", " example.com "),
        ("X-Sdk-Date", "20261124T030405Z"),
    ]
    assert signing.signable_headers(headers) == {
        "host": "example.com",
        "x-sdk-date": "20261124T030405Z",
    }


@pytest.mark.parametrize(
    ("content_type", "unsigned"),
    [
        (None, False),
        ("", False),
        ("application/json", False),
        ("application/json;charset=UTF-8", False),
        ("application/bson", False),
        ("text/plain", True),
        ("application/octet-stream", True),
        ("multipart/form-data; boundary=x", True),
    ],
)
def test_only_json_and_bson_bodies_are_signed(content_type: str | None, unsigned: bool) -> None:
    assert signing.content_type_is_unsigned(content_type) is unsigned
    body = b'{"a":1}'
    expected = signing.UNSIGNED_PAYLOAD if unsigned else hashlib.sha256(body).hexdigest()
    assert signing.payload_hash(body, content_type) == expected
    assert signing.payload_hash(b"", content_type) == signing.EMPTY_HASH
