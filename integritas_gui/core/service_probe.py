"""The Settings dialog's "Test connection": one check of a probe hash with candidate settings.

It runs in the engine process (the window does no HTTP) and answers with a verdict and words for
people, never with the key."""

from __future__ import annotations

import logging

from integritas_gui.core.errors import IntegritasError

log = logging.getLogger(__name__)

PROBE_HASH = "0" * 64


def describe_connection_result(error: Exception | None) -> tuple[str, str]:
    """(verdict, words) for a test call: verdict is ok | bad_key | plan_limit | unreachable | error."""
    if error is None:
        return "ok", "Connected: the service answered and accepted the key."
    kind = getattr(error, "kind", "")
    if kind == "auth":
        return "bad_key", "The service refused the API key. Check it in your Integritas profile."
    if kind == "plan_limit":
        return "plan_limit", "The key works, but the plan's limit is reached. Upgrade the plan."
    if kind in {"network", "timeout", "unavailable"}:
        return "unreachable", "Cannot reach the service. Check the address, proxy and network."
    if kind == "rate_limited":
        return "ok", "Connected (the service asks to slow down for a moment)."
    if kind in {"bad_request", "malformed"}:
        return "ok", "Connected: the service answered."
    message = getattr(error, "message", None) or type(error).__name__
    return "error", message


def probe_service(base_url: str, api_key: str | None, proxy: str | None = None,
                  timeout: float = 10) -> tuple[str, str]:
    """Ask the service at ``base_url`` about the probe hash once, without retries."""
    from integritas_gui.core.client import IntegritasClient

    error: Exception | None = None
    try:
        with IntegritasClient(base_url, api_key or None, timeout=timeout, max_retries=0,
                              proxy=proxy or None) as client:
            client.check(PROBE_HASH)
    except IntegritasError as exc:
        error = exc
    except Exception as exc:  # an unexpected client failure is still an answer for the user
        log.warning("Connection test failed: %s", type(exc).__name__)
        error = exc
    return describe_connection_result(error)
