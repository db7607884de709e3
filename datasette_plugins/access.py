"""Sign-in, roles and read-only connections.

Three locks, each enough on its own for what it guards:

- a gate in front of Datasette refuses every method but GET, HEAD and OPTIONS
  (signing in and out excepted), and turns away every request without a
  signed-in account (a `ds_actor` cookie from /-/login, or HTTP Basic), except
  the sign-in page and static files. It checks both against the accounts file
  as it is at that moment, and takes the Authorization header out of the
  request so nothing behind it parses it a second time;
- `permission_allowed` denies what the role does not have (reviewers run no
  SQL of their own) and any write action Datasette or a plugin might define;
- every connection to the review database is `PRAGMA query_only`, on top of
  the `mode=ro` or `immutable=1` that Datasette opens the file with.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import weakref
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from datasette import hookimpl
from datasette.utils import actor_matches_allow, await_me_maybe
from datasette.utils.asgi import Request, Response

from datasette_plugins.accounts import LiveAccounts

PLUGIN = "cma-ledger"
REVIEW_DATABASE = "review"
SCOPE_ACTOR = "cma_ledger.actor"
PUBLIC_PATHS = frozenset({"/-/login", "/favicon.ico"})
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
POST_PATHS = frozenset({"/-/login", "/-/logout"})
PUBLIC_PREFIXES = ("/-/static/", "/-/static-plugins/")
# Named in Datasette 1.0 and in write plugins; none is granted here.
WRITE_ACTIONS = frozenset(
    {
        "insert-row",
        "delete-row",
        "update-row",
        "upsert-row",
        "create-table",
        "alter-table",
        "drop-table",
        "create-token",
        "execute-write",
    }
)

# Whether the request being answered may open the events table: `render_cell`
# is not told who asks, and links only to what the viewer may open.
EVENTS_OPEN: ContextVar[bool] = ContextVar("cma_ledger_events_open", default=True)

_live_accounts: dict[str, LiveAccounts] = {}
_site_settings: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SiteSettings:
    sign_in: bool
    accounts: Path | None
    synthetic: bool

    @classmethod
    def of(cls, datasette) -> SiteSettings:
        """Read once per Datasette: its metadata does not change while it runs."""
        if datasette not in _site_settings:
            config = datasette.plugin_config(PLUGIN) or {}
            accounts = config.get("accounts")
            _site_settings[datasette] = cls(
                sign_in=bool(config.get("sign_in", True)),
                accounts=Path(accounts) if accounts else None,
                synthetic=bool(config.get("synthetic", False)),
            )
        return _site_settings[datasette]

    def live_accounts(self) -> LiveAccounts | None:
        if self.accounts is None:
            return None
        key = str(self.accounts)
        if key not in _live_accounts:
            _live_accounts[key] = LiveAccounts(self.accounts)
        return _live_accounts[key]

    def admits(self, actor: dict | None) -> bool:
        if not self.sign_in:
            return True
        live = self.live_accounts()
        return live is not None and live.still_valid(actor)

    def now(self, actor: dict | None) -> dict | None:
        live = self.live_accounts()
        return live.now(actor) if live else None

    def signed_in(self, name: str, password: str) -> dict | None:
        live = self.live_accounts()
        return live.signed_in(name, password) if live else None


def basic_credentials(authorization: bytes) -> tuple[str, str]:
    """The name and password of an HTTP Basic header, read as UTF-8 (RFC 7617).

    A header that does not decode gives an empty name, which no account has.
    """
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True)
        name, _, password = decoded.decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return name, password


def without_authorization(scope) -> tuple[dict, bytes | None]:
    """The request without its Authorization header, and the header."""
    headers = scope.get("headers") or []
    found = [value for key, value in headers if key == b"authorization"]
    if not found:
        return scope, None
    kept = [(key, value) for key, value in headers if key != b"authorization"]
    return dict(scope, headers=kept), found[0]


def may_run_sql(datasette, actor: dict | None) -> bool:
    """Charts run SQL of their own, so they are for those who may."""
    allow = datasette.metadata("allow_sql")
    return allow is None or bool(actor_matches_allow(actor, allow))


def may_open_events(datasette, actor: dict | None) -> bool:
    """Links to events are for those who may open them: with task notes, auditors."""
    allow = datasette.metadata(
        "allow", database=REVIEW_DATABASE, table="events", fallback=False
    )
    return allow is None or bool(actor_matches_allow(actor, allow))


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def actor_of(datasette, scope, receive) -> dict | None:
    """Ask every actor_from_request hook, as Datasette would, once per request."""
    # Imported here: importing datasette.plugins loads the entry points, this
    # package among them, which must not happen while it is half imported.
    from datasette.plugins import pm

    request = Request(scope, receive)
    for actor in pm.hook.actor_from_request(datasette=datasette, request=request):
        actor = await await_me_maybe(actor)
        if actor:
            return actor
    return None


def read_only_refusal() -> Response:
    return Response.text(
        "405 This site is read-only: only GET and HEAD are served\n",
        status=405,
        headers={"allow": "GET, HEAD, OPTIONS", "cache-control": "no-store"},
    )


def refusal(scope) -> Response:
    """401 and a Basic challenge for programs; a page linking to sign-in for people."""
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    if b"text/html" in accept:
        body = (
            "<!DOCTYPE html><html><head><title>Sign in required</title></head>"
            "<body><h1>Sign in required</h1><p>This review site shows case records "
            "to signed-in auditors and reviewers only.</p>"
            '<p><a href="/-/login">Sign in</a></p></body></html>'
        )
        return Response.html(body, status=403, headers={"cache-control": "no-store"})
    return Response.text(
        "401 Sign in required: use HTTP Basic with your cma-ledger account\n",
        status=401,
        headers={
            "www-authenticate": 'Basic realm="cma-ledger", charset="UTF-8"',
            "cache-control": "no-store",
        },
    )


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def gate(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if (
                scope["method"] not in READING_METHODS
                and scope["path"] not in POST_PATHS
            ):
                return await read_only_refusal().asgi_send(send)
            scope, authorization = without_authorization(scope)
            site = SiteSettings.of(datasette)
            if not site.sign_in or is_public(scope["path"]):
                return await app(scope, receive, send)
            if authorization and authorization[:6].lower() == b"basic ":
                name, password = basic_credentials(authorization)
                actor = await asyncio.to_thread(site.signed_in, name, password)
            else:
                actor = site.now(await actor_of(datasette, scope, receive))
            if actor is None:
                return await refusal(scope).asgi_send(send)
            token = EVENTS_OPEN.set(may_open_events(datasette, actor))
            try:
                await app(dict(scope, **{SCOPE_ACTOR: actor}), receive, send)
            finally:
                EVENTS_OPEN.reset(token)

        return gate

    return wrap


async def sign_in_page(request, datasette) -> Response:
    """/-/login against the accounts file as it is now (not as it was at start)."""
    site = SiteSettings.of(datasette)
    error = None if site.sign_in else "This site is open: there is no need to sign in"
    if request.method == "POST" and site.sign_in:
        form = await request.post_vars()
        name, password = form.get("username") or "", form.get("password") or ""
        actor = await asyncio.to_thread(site.signed_in, name, password)
        if actor is not None:
            response = Response.redirect(datasette.urls.path("/"))
            response.set_cookie("ds_actor", datasette.sign({"a": actor}, "actor"))
            return response
        error = "Invalid username or password"
    return Response.html(
        await datasette.render_template(
            "password_login.html", {"error": error}, request=request
        )
    )


@hookimpl(tryfirst=True)
def actor_from_request(datasette, request):
    """The actor the gate already checked, so a password is verified once."""
    return request.scope.get(SCOPE_ACTOR)


@hookimpl(trylast=True)
def permission_allowed(datasette, actor, action, resource):
    """Called last, so a False here overrides any grant before it."""
    if action in WRITE_ACTIONS:
        return False
    site = SiteSettings.of(datasette)
    if not site.sign_in:
        return None
    if not site.admits(actor):
        return False
    if action == "execute-sql" and actor.get("role") != "auditor":
        return False
    return None


@hookimpl
def prepare_connection(conn, database, datasette):
    if database == REVIEW_DATABASE:
        conn.execute("PRAGMA query_only = 1")
