"""Huawei's own AK/SK signer (``huaweicloudsdkcore``), the MetaStudio stand-in's reference in
every test: each request the bot signs is checked against it, independently of our signer."""

from __future__ import annotations

from urllib.parse import parse_qsl

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from bot.sandbox.standins.metastudio import SignedRequest


def huawei_signer(request: SignedRequest, ak: str, sk: str) -> str:
    sdk_request = SdkRequest(
        method=request.method,
        schema="http",
        host=request.host,
        resource_path=request.raw_path,
        query_params=parse_qsl(request.raw_query, keep_blank_values=True),
        header_params=dict(request.headers),
        body=request.body,
    )
    signed = Signer(BasicCredentials(ak, sk)).sign(sdk_request)
    return str(signed.header_params["Authorization"])
