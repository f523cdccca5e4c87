"""The Connect portal: server-rendered pages for factory and customer staff, at /portal.

Every page gets its data from GraphQL operations of our own schema executed as the signed-in
viewer (web.portal.graph), so it shows exactly what the API would: no permission rule and no
SQL of its own. Sessions and CSRF: web.portal.session.
"""
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from web.portal import customer, factory, public
from web.portal.pages import UnavailablePage


async def _home(request: object) -> RedirectResponse:
    return RedirectResponse("/portal/", status_code=307)


def routes() -> list[BaseRoute]:
    """The portal's routes, and `/` sending a browser to it."""
    post = ["POST"]
    pages = [
        Route("/", public.directory), Route("/factories", public.directory),
        Route("/factories/{id}", public.factory_page),
        Route("/factories/{id}/connect", public.request_connection, methods=post),
        Route("/verify", public.verify),
        Route("/sign-in", public.sign_in_page), Route("/sign-in", public.sign_in, methods=post),
        Route("/sign-up", public.sign_up_page), Route("/sign-up", public.sign_up, methods=post),
        Route("/sign-out", public.sign_out, methods=post),
        Route("/dashboard", customer.dashboard),
        Route("/dashboard/live", customer.dashboard_rows),
        Route("/socket-ticket", customer.socket_ticket),
        Route("/exports/factories.{format:str}", customer.export),
        Route("/connections/{id}/cancel", customer.cancel, methods=post),
        Route("/mine", factory.my_factories),
        Route("/mine/{id}", factory.progress),
        Route("/mine/{id}/apply", factory.apply, methods=post),
        Route("/mine/{id}/cap", factory.submit_cap, methods=post),
        Route("/mine/{id}/environment", factory.submit_environment, methods=post),
        Route("/connections/{id}/respond", factory.respond, methods=post),
        Route("/connections/{id}/scopes", factory.narrow, methods=post),
        Route("/connections/{id}/end", factory.end, methods=post),
        Route("/uploads", factory.upload, methods=post),
        Mount("/static", StaticFiles(packages=[("web.portal", "static")]), name="portal-static"),
    ]
    return [Route("/", _home),
            Mount("/portal", routes=pages, middleware=[Middleware(UnavailablePage)])]
