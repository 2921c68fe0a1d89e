"""The Prometheus exposition's paths (`/v1/metrics`, `/metrics`)."""

from __future__ import annotations

from .statuses import TEXT_PLAIN, errors

__all__ = ["PATHS", "SCHEMAS"]

_GET = {
    "get": {
        "summary": "Prometheus metrics: per site (id, name) and of the service",
        "description": (
            "Text exposition format 0.0.4. Per site: dockerlink_site_cpu_seconds_total, "
            "dockerlink_site_memory_used_bytes, dockerlink_site_memory_limit_bytes, "
            "dockerlink_site_network_receive_bytes_total, dockerlink_site_network_transmit_bytes_total, "
            "dockerlink_site_running. Service: dockerlink_http_requests_total, "
            "dockerlink_http_request_duration_seconds, dockerlink_engine_call_duration_seconds, "
            "dockerlink_collector_round_duration_seconds, dockerlink_collector_last_success_timestamp_seconds. "
            "Panel token only."
        ),
        "responses": {
            "200": {"description": "the metrics", "content": TEXT_PLAIN},
            **errors(401, 403, narrower={403: "a scoped token"}),
        },
    }
}

PATHS = {"/v1/metrics": _GET, "/metrics": _GET}

SCHEMAS: dict = {}
