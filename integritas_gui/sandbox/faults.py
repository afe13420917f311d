"""Fault injection for tests: the sandbox answers a request with a failure instead of doing it.

A request header ``x-sandbox-fault: NAME[:ARG][; times=N][; token=T]``.
  NAME: 503-html, 502, 429[:SECONDS|date], slow[:SECONDS], truncated-json, reset, empty-200,
  html-200, error-200 (HTTP 200 carrying a ``status: "error"`` envelope), status:CODE (an error
  envelope with that HTTP status, e.g. status:403), node-failed[:JSON] (a success envelope whose
  Minima node command reports ``"status": false``, or the JSON value given, e.g. ``node-failed:"false"``
  or ``node-failed:0``, as services that send flags as text or numbers do).
  times=N: only the first N requests carrying this exact header value fail, later ones pass (so a
  client's retry of the same request succeeds); without it every such request fails.
  token=T: any text, to keep counters of different tests apart on a shared server.
Effect on the ledger: every injected fault leaves the state unchanged (nothing stamped, nothing
counted except ``faults_injected``), except ``slow``: the request is carried out and only the answer
is delayed, which is the realistic "lost in flight" case (a client that times out and retries a stamp
has stamped twice, as it would have with the real service). ``reset`` closes the connection before
doing anything.
"""

from __future__ import annotations

import email.utils
import json
import socket
import struct
import time

from integritas_gui.sandbox.ledger import MINIMA_SEND_ADDRESS

FAULTS = ("503-html", "502", "429", "slow", "truncated-json", "reset", "empty-200", "html-200",
          "error-200", "status", "node-failed")
RANDOM_FAULTS = ("503-html", "502", "429", "reset")  # the retryable ones that leave state unchanged
DEFAULT_SLOW_SECONDS = 150.0  # past the client's read timeouts (30 s, verify 120 s)

_STATUS_MESSAGES = {400: "Bad request", 401: "Invalid or missing API key", 402: "Payment required",
                    403: "API key revoked", 404: "Not found", 500: "Internal server error",
                    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout"}

_HTML_503 = (b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
             b"<body><center><h1>503 Service Temporarily Unavailable</h1></center><hr>"
             b"<center>nginx</center></body></html>\n")
_HTML_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
             b"</h1></center><hr><center>cloudflare</center></body></html>\n")
_HTML_200 = (b"<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body>"
             b"<form action=\"/login\"><input name=\"user\"></form></body></html>\n")


class FaultSpec:
    def __init__(self, name: str, arg: str | None, times: int | None, key: str):
        self.name, self.arg, self.times, self.key = name, arg, times, key

    @classmethod
    def parse(cls, value: str) -> FaultSpec:
        parts = [part.strip() for part in value.split(";") if part.strip()]
        if not parts:
            raise ValueError("empty fault")
        name, _, arg = parts[0].partition(":")
        name = name.strip().lower()
        if name not in FAULTS:
            raise ValueError(f"unknown sandbox fault {name!r}; known: {', '.join(FAULTS)}")
        times = None
        for option in parts[1:]:
            key, _, val = option.partition("=")
            if key.strip().lower() == "times":
                times = int(val)
        return cls(name, arg.strip() or None, times, value.strip())


def inject(handler, fault: FaultSpec, request_id: str) -> None:
    """Answer ``handler``'s request with ``fault`` instead of doing it."""
    name = fault.name
    if name == "503-html":
        handler._send(503, _HTML_503, "text/html")
    elif name == "502":
        handler._send(502, _HTML_502, "text/html")
    elif name == "429":
        body = json.dumps({"service": "CORE_API", "apiVersion": 2, "requestId": request_id,
                           "status": "error", "statusCode": 429,
                           "message": "Too many requests, please slow down", "data": None})
        handler._send(429, body.encode(), headers={"Retry-After": retry_after_value(fault.arg)})
    elif name == "error-200":
        body = json.dumps({"service": "CORE_API", "apiVersion": 2, "requestId": request_id,
                           "status": "error", "statusCode": 400,
                           "message": "Hash could not be processed", "data": None})
        handler._send(200, body.encode())
    elif name == "node-failed":
        command = {"service": "MINIMA_NODE", "command": "send",
                   "params": {"amount": "1e-22", "address": MINIMA_SEND_ADDRESS, "state": {}},
                   "status": json.loads(fault.arg) if fault.arg else False,
                   "error": "Insufficient funds"}
        handler._envelope(200, "Minima node command failed", command, request_id)
    elif name == "status":
        code = int(fault.arg or 500)
        handler._envelope(code, _STATUS_MESSAGES.get(code, "Error"), None, request_id)
    elif name == "truncated-json":
        body = ('{"service":"CORE_API","apiVersion":2,"requestId":"%s","status":"succ'
                % request_id).encode()
        handler._send(200, body)
    elif name == "empty-200":
        handler._send(200, b"")
    elif name == "html-200":
        handler._send(200, _HTML_200, "text/html")
    elif name == "reset":
        handler.close_connection = True
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        except OSError:
            pass
        handler.connection.close()  # with linger 0 the last close sends RST, no answer


def retry_after_value(arg: str | None) -> str:
    """Retry-After for the 429 fault: delta seconds (default 1), or ``date`` for an HTTP date ~2 s on."""
    if arg and arg.strip().lower().startswith("date"):
        _, _, ahead = arg.partition("+")
        seconds = float(ahead) if ahead.strip() else 2.0
        return email.utils.formatdate(time.time() + seconds, usegmt=True)
    try:
        return str(max(0, int(float(arg)))) if arg else "1"
    except ValueError:
        return "1"


def slow_seconds(arg: str | None) -> float:
    try:
        return max(0.0, float(arg)) if arg else DEFAULT_SLOW_SECONDS
    except ValueError:
        return DEFAULT_SLOW_SECONDS
