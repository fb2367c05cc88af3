"""The stand-in's AK/SK check built on Huawei's own ``huaweicloudsdkcore`` Signer, so the tests
hold stoplive's signer to Huawei's, not to itself. (A test-only dependency: the stand-in itself
does not import it.)"""

from __future__ import annotations

from urllib.parse import parse_qsl

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tests.standins.metastudio import SignedRequest


def huawei_signer(request: SignedRequest, ak: str, sk: str) -> str:
    """The Authorization header ``huaweicloudsdkcore`` computes for ``request``."""
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
