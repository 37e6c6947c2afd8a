"""GeoReport v2 documents as JSON or XML, and the standard's error list.

The same data renders both ways: a JSON array (services, service requests, errors) or object
(a service definition, the discovery document), or an XML document whose root names the list and
whose items repeat one element per entry (``<services><service>``, ``<errors><error>``, ...).
Every text is UTF-8; characters XML 1.0 cannot carry (control characters) are dropped.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - builds documents, never parses input
from zoneinfo import ZoneInfo

from flask import Response

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json", "xml": "text/xml"}
# The element of each item of a list, by the list's element.
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def w3c(value: datetime | None) -> str | None:
    """A time as the standard writes it (W3C ISO 8601 with the offset), in Beijing time."""
    if value is None:
        return None
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    """Put ``value`` inside ``element``: an object's keys as child elements in order, a list's
    items as repeated children named by ITEM_TAGS, anything else as text."""
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """The XML document of ``data`` under ``root``, with the UTF-8 declaration."""
    element = ET.Element(root)
    _fill(element, data)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def document(root: str, data: Any, fmt: str, status: int = 200) -> Response:
    """A response carrying ``data`` as JSON (``data`` itself) or XML (under ``root``)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        body = to_xml(root, data)
    return Response(body, status=status, content_type=f"{MIMETYPES[fmt]}; charset=utf-8")


def errors(status: int, description: str, fmt: str, headers: dict[str, str] | None = None):
    """The standard's error response: a list of {code, description} (XML <errors><error>)."""
    resp = document("errors", [{"code": status, "description": description}], fmt, status)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp
