"""Prometheus metrics (``GET /metrics``): what an operator of several replicas watches.

One registry, module-level metric objects; code that has something to count imports the metric
it needs. Labels take fixed words only (verdicts, reasons), never IDs, so series stay few.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

STOPS = Counter("stoplive_stops", "Confirmed stops by verdict", ["verdict"], registry=REGISTRY)
CLAIM_CONFLICTS = Counter(
    "stoplive_claim_conflicts",
    "Clicks refused because the confirmation or the job was already claimed",
    ["kind"],  # "ticket" or "job"
    registry=REGISTRY,
)
TAKEOVERS = Counter(
    "stoplive_journal_takeovers", "Stops taken over from an owner that was gone", registry=REGISTRY
)
STORE_ERRORS = Counter(
    "stoplive_store_errors", "State store calls that failed", ["operation"], registry=REGISTRY
)
REJECTED_REQUESTS = Counter(
    "stoplive_rejected_requests",
    "Slack requests refused before dispatch",
    ["reason"],
    registry=REGISTRY,
)
SOCKET_CONNECTS = Counter(
    "stoplive_socket_connects",
    "Socket Mode connection tries by result (connected, no_url, failed)",
    ["result"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "stoplive_ack_seconds",
    "Time from receiving a Slack request to answering it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0),
    registry=REGISTRY,
)
CLICK_TO_ANNOUNCE_SECONDS = Histogram(
    "stoplive_click_to_announce_seconds",
    "Time from a confirmed click to the channel's first message about the stop",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
STREAM_WATCH_POLLS = Counter(
    "stoplive_stream_watch_polls",
    "Stream watch polls by result (ok, failed, standby: another replica holds the lease, "
    "store_unavailable)",
    ["result"],
    registry=REGISTRY,
)
STREAM_NOTES = Counter(
    "stoplive_stream_notes",
    "Notes the stream watch posted by kind (failed, blocked, ended, vanished, long_live, "
    "started, cannot_watch, watching_again) and result (posted, unposted)",
    ["kind", "result"],
    registry=REGISTRY,
)
