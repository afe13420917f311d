"""Answer shapes for tests: a successful answer reshaped into another form the real service may send.

A request header ``x-sandbox-shape: NAME[, NAME...]`` picks the forms: ``partial-match`` (verify of an
anchored hash reports a partial match over several byte ranges), ``extra-fields`` (unknown fields at every level),
``minimal`` (every optional field left out), ``0x-hashes`` (hashes echoed as 0x + upper case),
``unexpected-text`` (a check answer and a verify result outside the documented words),
``no-report-link`` (a verify that asked for a report answers without ``data.file``; the report is
still made and counted), ``v1-report-link`` (the link as v1 spelled it: ``file.download_url``),
``naive-dates`` (block dates without a zone, ``2026-01-21 09:55:48``, which are UTC),
``no-record[:N]`` (check finds an anchored hash but verify, and a stamp's "already anchored" answer,
list no record yet and say no match, as while the service's index lags the chain; with N only the
first N verify answers of each hash).
"""

from __future__ import annotations

import json

SHAPES = ("partial-match", "extra-fields", "minimal", "0x-hashes", "unexpected-text", "no-report-link",
          "v1-report-link", "naive-dates", "no-record")


def parse_shapes(header: str | None) -> tuple[str, ...]:
    if not header:
        return ()
    names = tuple(part.strip().lower() for part in header.split(",") if part.strip())
    unknown = [name for name in names if name.partition(":")[0] not in SHAPES
               or ":" in name and not (name.startswith("no-record:") and name[10:].isdigit())]
    if unknown:
        raise ValueError(f"unknown sandbox shape {unknown[0]!r}; known: {', '.join(SHAPES)}")
    return names


_EXTRA = {"x-vendor-note": "unknown field", "schemaRevision": 7, "links": {"self": "/v2"}}


def reshape(data, shapes: tuple[str, ...], path: str):
    """A successful answer's ``data`` in another form the real service may send (see the module doc)."""
    if not isinstance(data, dict):
        return data
    data = json.loads(json.dumps(data))  # deep copy
    inner = data.get("data") if isinstance(data.get("data"), dict) else None
    is_verification = inner is not None and "result" in inner
    if "partial-match" in shapes and is_verification and inner["blockchainData"]:
        size = inner.get("fileSize") or 0
        half = size // 2
        inner["result"] = "partial match"
        inner["uniqueHashes"] = 2
        inner["fileSegments"] = [
            {"matchedHash": inner["fileHash"], "offset": 0, "packetSize": half},
            {"matchedHash": inner["fileHash"], "offset": half + 1024, "packetSize": max(0, size - half - 1024)},
        ]
    if "no-report-link" in shapes:
        data.pop("file", None)
    if "v1-report-link" in shapes and isinstance(data.get("file"), dict):
        v2 = data["file"]
        data["file"] = {"file_name": v2.get("fileName"), "download_url": v2.get("downloadUrl"),
                        "file_size": v2.get("fileSize")}
    if "naive-dates" in shapes and is_verification:
        for entry in inner.get("blockchainData", []):
            entry["blockDate"] = entry["blockDate"][:19].replace("T", " ")
    if "unexpected-text" in shapes:
        if path.endswith("/file/check") and isinstance(data.get("data"), str):
            data["data"] = "Search index is rebuilding."
        if is_verification:
            inner["result"] = "inconclusive"
    if "0x-hashes" in shapes:
        def prefixed(value):
            return "0x" + value.upper().removeprefix("0X").removeprefix("0x")
        if isinstance(data.get("hash"), str):
            data["hash"] = prefixed(data["hash"])
        if is_verification:
            inner["fileHash"] = prefixed(inner["fileHash"])
            for entry in inner.get("blockchainData", []) + inner.get("fileSegments", []):
                entry["matchedHash"] = prefixed(entry["matchedHash"])
        params = data.get("params")
        if isinstance(params, dict) and isinstance(params.get("state"), dict):
            params["state"]["99"] = prefixed(params["state"]["99"])
    if "no-record" in shapes and is_verification:
        inner.update(result="no match", uniqueHashes=0, blockchainData=[], fileSegments=[])
    if "extra-fields" in shapes:
        data.update(_EXTRA)
        if is_verification:
            inner.update(_EXTRA)
            for entry in inner.get("blockchainData", []) + inner.get("fileSegments", []):
                entry.update(confirmations=12, **_EXTRA)
        if isinstance(data.get("file"), dict):
            data["file"].update(contentType="application/pdf", **_EXTRA)
    if "minimal" in shapes:
        if is_verification:
            kept = {"result": inner["result"], "blockchainData": [
                {"blockNumber": e["blockNumber"], "txpowId": e["txpowId"]}
                for e in inner["blockchainData"]]}
            minimal = {"data": kept}
            if isinstance(data.get("file"), dict):
                minimal["file"] = {key: value for key, value in data["file"].items()
                                   if key in ("downloadUrl", "download_url")}
            data = minimal
        elif inner is None and "data" in data and path.endswith("/file/check"):
            data = {"data": data["data"]}
        elif data.get("service") == "MINIMA_NODE":
            data = {"command": data["command"], "status": data["status"]}
    return data
