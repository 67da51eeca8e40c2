"""The baseline of benchmarks/redirect.py: a bare Starlette app answering a constant 302."""

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def redirect(request):
    return Response(status_code=302, headers={"location": "https://shop.example/p?ct_id=x", "cache-control": "private, no-store"})


app = Starlette(routes=[Route("/{code}", redirect, methods=["GET", "HEAD"])])
