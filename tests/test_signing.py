"""The AK/SK signer agrees with Huawei's own ``huaweicloudsdkcore`` Signer, byte for byte; and the
signer's choices that a request signed and checked by the same rules cannot show: which headers
are signed and which bodies go unsigned (written against mutmut's survivors in
``bot/metastudio/signing.py``: the stand-in accepts either choice, as long as it is declared)."""

from __future__ import annotations

import hashlib
import random
import string
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from pydantic import SecretStr

from bot.metastudio import signing
from bot.metastudio.auth import AkSkAuth
from bot.sandbox.standins.metastudio import SignedRequest, stoplive_signer
from tests.reference_signer import huawei_signer

AK, SK, PROJECT = (
    "HPUABCDEFGHIJKLMNOPQ",
    "s3cr3t/KEY+with=odd~chars",
    "70b76xxxxxx34253880af501cdxxxxxx",
)
WHEN = datetime(2026, 11, 24, 3, 4, 5, tzinfo=UTC)
PATH_CHARS = string.ascii_letters + string.digits + "-_.~ !$'()*+,;=:@é中"
TEXT_CHARS = string.ascii_letters + string.digits + " -_.~!*'();:@&=+$,/?#[]%é中😀"


def sign_both(request: httpx.Request) -> tuple[str, str]:
    """(ours, Huawei's) Authorization for the same request."""
    flow = AkSkAuth(SecretStr(AK), SecretStr(SK), PROJECT, clock=lambda: WHEN).sync_auth_flow(
        request
    )
    signed = next(flow)
    raw_path, _, raw_query = signed.url.raw_path.decode().partition("?")
    headers = {
        k.decode(): v.decode("utf-8")
        for k, v in signed.headers.raw
        if k.lower() not in (b"authorization", b"connection")
    }
    sdk = SdkRequest(
        method=signed.method,
        schema=signed.url.scheme,
        host=signed.url.netloc.decode(),
        resource_path=raw_path,
        query_params=parse_qsl(raw_query, keep_blank_values=True),
        header_params=headers,
        body=signed.content,
    )
    theirs = Signer(BasicCredentials(AK, SK)).sign(sdk).header_params["Authorization"]
    return signed.headers["Authorization"], theirs


def random_case(rng: random.Random) -> httpx.Request:
    def word(chars: str, low: int, high: int) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(low, high)))

    segments = [word(PATH_CHARS, 1, 12) for _ in range(rng.randint(1, 5))]
    path = "/" + "/".join(segments) + ("/" if rng.random() < 0.3 else "")
    params = [(word(TEXT_CHARS, 1, 8), word(TEXT_CHARS, 0, 10)) for _ in range(rng.randint(0, 4))]
    if params and rng.random() < 0.3:
        params.append((params[0][0], word(TEXT_CHARS, 0, 6)))  # a repeated key
    headers: dict[str, str | bytes] = {"X-App-UserId": word(string.ascii_letters + "-._@", 1, 20)}
    if rng.random() < 0.5:
        headers["X-Custom-Note"] = word(TEXT_CHARS, 1, 16).encode("utf-8")  # unicode header
    if rng.random() < 0.3:
        headers["X_Underscored"] = "skipped by both"
    if rng.random() < 0.3:
        headers["X-Padded"] = "  padded value  "
    body: bytes = b""
    choice = rng.random()
    if choice < 0.4:
        headers["Content-Type"] = "application/json"
        note = word(TEXT_CHARS.replace('"', ""), 0, 30)
        body = f'{{"note": "{note}"}}'.encode()
    elif choice < 0.6:
        headers["Content-Type"] = rng.choice(["text/plain", "application/octet-stream"])
        body = word(TEXT_CHARS, 1, 30).encode()
    method = rng.choice(["GET", "POST", "PUT", "DELETE"])
    host = rng.choice(["metastudio.cn-north-4.myhuaweicloud.com", "127.0.0.1:8080"])
    return httpx.Request(
        method, f"https://{host}{path}", params=params, headers=headers, content=body
    )


@pytest.mark.parametrize("seed", range(64))
def test_agrees_with_huaweicloudsdkcore_on_generated_requests(seed: int) -> None:
    ours, theirs = sign_both(random_case(random.Random(seed)))
    assert ours == theirs


def test_agrees_on_the_stop_call_itself() -> None:
    request = httpx.Request(
        "POST",
        f"https://metastudio.cn-north-4.myhuaweicloud.com/v1/{PROJECT}/smart-live-rooms/"
        "24bad716-87b1-45e5-8912-6102f7693265/smart-live-jobs/26f06524-4f75-4b3a-a853-b649a21aaf66/stop",
        headers={"X-App-UserId": "ops-alice", "Content-Type": "application/json"},
    )
    ours, theirs = sign_both(request)
    assert ours == theirs
    assert ours.startswith(f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=")


def test_signed_request_carries_date_project_and_security_token() -> None:
    auth = AkSkAuth(
        SecretStr(AK), SecretStr(SK), PROJECT, SecretStr("temp-token"), clock=lambda: WHEN
    )
    signed = next(auth.sync_auth_flow(httpx.Request("GET", "https://h/v1/x")))
    assert signed.headers["X-Sdk-Date"] == "20261124T030405Z"
    assert signed.headers["X-Project-Id"] == PROJECT
    assert signed.headers["X-Security-Token"] == "temp-token"
    names = signed.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-sdk-date", "x-project-id", "x-security-token"} <= set(names)
    assert "connection" not in names and names == sorted(names)


def test_canonical_pieces() -> None:
    assert signing.canonical_uri("/v1/p/rooms") == "/v1/p/rooms/"
    assert signing.canonical_uri("/a%20b/c") == "/a%20b/c/"
    assert signing.canonical_query("b=2&a=1&a=0&c=") == "a=0&a=1&b=2&c="
    assert signing.payload_hash(b"", "text/plain") == signing.EMPTY_HASH
    assert signing.payload_hash(b"x", "text/plain") == signing.UNSIGNED_PAYLOAD


def test_secret_key_is_never_in_the_request() -> None:
    signed = next(
        AkSkAuth(SecretStr(AK), SecretStr(SK), PROJECT, clock=lambda: WHEN).sync_auth_flow(
            httpx.Request("POST", "https://h/v1/x", content=b"{}")
        )
    )
    assert SK not in str(signed.headers) and SK not in repr(signed)


def received(request: httpx.Request) -> SignedRequest:
    """``request`` signed by stoplive, as the MetaStudio stand-in sees it arrive."""
    signed = next(
        AkSkAuth(SecretStr(AK), SecretStr(SK), PROJECT, clock=lambda: WHEN).sync_auth_flow(request)
    )
    names = signed.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    raw_path, _, raw_query = signed.url.raw_path.decode().partition("?")
    return SignedRequest(
        method=signed.method,
        host=signed.url.netloc.decode(),
        raw_path=raw_path,
        raw_query=raw_query,
        headers={name: signed.headers[name] for name in names},
        body=signed.content,
    )


@pytest.mark.parametrize("seed", range(32))
def test_the_sandboxs_reference_signer_agrees_with_huaweis(seed: int) -> None:
    """The sandbox checks signatures with stoplive's own signer (it ships without
    huaweicloudsdkcore); the tests with Huawei's. Both must accept exactly what the other does."""
    request = random_case(random.Random(seed))
    arrived = received(request)
    expected = stoplive_signer(arrived, AK, SK)
    assert expected == huawei_signer(arrived, AK, SK)
    assert expected == request.headers["Authorization"]


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
