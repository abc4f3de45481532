"""Reading request bodies and query parameters, with problems that point at the bad field."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from aiohttp import web

from edge.http.problems import Problem, invalid_input, invalid_parameter

MAX_BODY = 64 * 1024  # an order request is a few hundred bytes
BODY_TIMEOUT = 15.0  # seconds a body may take to arrive: a slow sender holds no connection


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


async def json_body(
    request: web.Request, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> dict:
    """The request's JSON object, holding every `required` field and nothing unknown.

    An empty body counts as `{}`, so actions without fields can be posted bare.
    """
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            raw = await request.read()
    except TimeoutError:
        raise Problem(
            408,
            "body-timeout",
            "The request body did not arrive in time",
            f"the whole body must arrive within {BODY_TIMEOUT:.0f} s of the headers",
        ) from None
    if raw.strip():
        if request.content_type != "application/json":
            raise Problem(
                415,
                "unsupported-media-type",
                "The request body must be JSON",
                f"send Content-Type: application/json, not {request.content_type}",
            )
        try:
            body = json.loads(raw, parse_constant=_reject_constant)
            # A lone surrogate ("\ud800") parses, but it is not text: nothing can store or send it.
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise Problem(
                400,
                "malformed-json",
                "The request body is not valid JSON",
                "a string holds a lone UTF-16 surrogate (such as \\ud800), which is not text",
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(
                400, "malformed-json", "The request body is not valid JSON", str(exc)
            ) from None
        except RecursionError:  # json.loads raises it, not ValueError, on ~1,000 levels
            raise Problem(
                400,
                "malformed-json",
                "The request body is not valid JSON",
                "the body nests arrays or objects too deeply to read",
            ) from None
    else:
        body = {}
    if not isinstance(body, dict):
        raise invalid_input(
            f"the body must be a JSON object, not {type(body).__name__}", pointer=""
        )
    for name in body:
        if name not in required and name not in optional:
            known = ", ".join((*required, *optional)) or "none"
            raise invalid_input(
                f"unknown field {name!r} (fields: {known})", pointer=f"/{_escape(name)}"
            )
    for name in required:
        if name not in body:
            raise invalid_input(f"{name} is required", pointer=f"/{name}")
    return body


def _escape(name: str) -> str:
    """A member name as a JSON pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def known_query(request: web.Request, names: tuple[str, ...]) -> None:
    """Refuse a query parameter that is not one of `names`, as bodies refuse unknown fields."""
    for name in request.query:
        if name not in names:
            raise invalid_parameter(
                f"unknown parameter {name!r} (parameters: {', '.join(names)})", parameter=name
            )


def query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within [low, high] (or `default` when absent)."""
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise invalid_parameter(f"{name} must be an integer from {low} to {high}", parameter=name)
    return value


def query_bool(request: web.Request, name: str) -> bool:
    """A boolean query parameter: true/false, 1/0 (absent is false)."""
    text = request.query.get(name, "false").lower()
    if text not in ("true", "false", "1", "0"):
        raise invalid_parameter(f"{name} must be true or false", parameter=name)
    return text in ("true", "1")


def query_date(request: web.Request, default: dt.date, name: str = "date") -> dt.date:
    """A date query parameter as YYYY-MM-DD (or `default` when absent)."""
    text = request.query.get(name)
    if text is None:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid_parameter(f"{name} must be a date as YYYY-MM-DD", parameter=name) from None
