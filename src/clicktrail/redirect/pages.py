"""The small pages a person sees when a short link does not lead anywhere."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1d2430;
display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}}
main{{max-width:28rem;padding:2rem;text-align:center}}h1{{font-size:1.4rem;margin:0 0 .5rem}}
p{{color:#5b6472;line-height:1.5}}</style></head>
<body><main><h1>{title}</h1><p>{message}</p></main></body></html>"""

_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


def page(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), message=escape(message)), status, headers=_HEADERS)


def not_found() -> HTMLResponse:
    return page(404, "Link not found", "This short link does not exist. Check that it was copied completely.")


def gone() -> HTMLResponse:
    return page(410, "This link has ended", "The link was switched off, has expired, or has been used up.")


def unavailable() -> HTMLResponse:
    return page(503, "Try again in a moment", "We could not look this link up just now.")
