"""``GET /healthz`` and ``GET /metrics`` over real loopback HTTP."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.sandbox.standins import serve_on_loopback
from bot.slack.server import web_app
from tests.conftest import BotFactory
from tests.harness import SIGNING_SECRET


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_acks_and_refusals(start_bot: BotFactory) -> None:
    bot = await start_bot()
    metrics_url = bot.events_url.replace("/slack/events", "/metrics")
    before = samples((await bot.http.get(metrics_url)).text)
    assert (await bot.http.post(bot.events_url, content=b"x")).status_code == 401
    assert (await bot.command("help"))[0].status_code == 200
    response = await bot.http.get(metrics_url)
    assert response.headers["Content-Type"].startswith("text/plain")
    after = samples(response.text)
    refused = ("stoplive_rejected_requests_total", (("reason", "unsigned"),))
    acks = ("stoplive_ack_seconds_count", ())
    assert after[refused] - before.get(refused, 0) == 1
    assert after[acks] - before[acks] == 2


async def test_healthz_says_why_it_is_unhealthy(start_bot: BotFactory) -> None:
    bolt = (await start_bot()).stoplive.bolt
    reason: list[str | None] = [None]

    async def health() -> str | None:
        if reason[0] == "raise":
            raise ConnectionError("redis down")
        return reason[0]

    runner, url = await serve_on_loopback(web_app(bolt, SIGNING_SECRET, health))
    try:
        async with httpx.AsyncClient() as http:
            ok = await http.get(url + "/healthz")
            assert (ok.status_code, ok.json()) == (200, {"ok": True})
            reason[0] = "state store unreachable"
            bad = await http.get(url + "/healthz")
            assert bad.status_code == 503
            assert bad.json() == {"ok": False, "reason": "state store unreachable"}
            reason[0] = "raise"
            broken = await http.get(url + "/healthz")
            assert broken.status_code == 503
            assert broken.json() == {"ok": False, "reason": "health_check_failed"}
    finally:
        await runner.cleanup()
