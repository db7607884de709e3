"""cma-ledger's Datasette plugin: sign-in, read-only access, explained pages.

Datasette loads this package through the `datasette` entry point; each hook
lives in the module named for what it does and is gathered here.
"""

from datasette_plugins.access import (
    actor_from_request,
    asgi_wrapper,
    permission_allowed,
    prepare_connection,
)
from datasette_plugins.cells import render_cell, startup
from datasette_plugins.chrome import extra_css_urls, extra_template_vars, menu_links
from datasette_plugins.pages import register_routes
from datasette_plugins.paging import register_magic_parameters

__all__ = [
    "actor_from_request",
    "asgi_wrapper",
    "extra_css_urls",
    "extra_template_vars",
    "menu_links",
    "permission_allowed",
    "prepare_connection",
    "register_magic_parameters",
    "register_routes",
    "render_cell",
    "startup",
]
