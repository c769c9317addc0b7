"""The dashboard: FastAPI pages (Jinja2, no JavaScript) and the JSON API under ``/api/``.

Front-end rules (STYLE.md §8): every route parses, calls the inventory or the
library API, and renders.  Nothing is visible without logging in; every login,
export and annotation goes to the inventory's audit log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from camsweep import __version__, api, exports
from camsweep.web import charts
from camsweep.web.accounts import MAX_ANNOTATION_LEN, PERMISSIONS, Accounts, User
from camsweep.web.security import LOGIN_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE_S, Signer, tokens_match
from db.records import DeviceRecord
from db.repository import DeviceFilter, Inventory
from fingerprints.errors import CamsweepError, ConfigError, NotFoundError
from fingerprints.evidence import Evidence
from fingerprints.matcher import identify
from scanner.targets import Scope

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_TARGETS_LEN = 2000
MAX_FILTER_LEN = 128

#: The filters of the inventory table, the exports and ``/api/devices``: DeviceFilter's fields.
FILTER_FIELDS = (
    "site",
    "brand",
    "manufacturer",
    "model",
    "category",
    "connectivity",
    "firmware",
    "policy_flag",
    "advisory",
)


class LoginRequired(Exception):
    """A page was asked for without a session: send the browser to the login form."""


def _export_record_model() -> type[BaseModel]:
    """The model of one ``exports.export_record``: its columns, typed as ``DeviceRecord`` types them.

    Built from the dataclass so a record field's type is written once; ``export_record`` writes
    the datetimes as ISO 8601 text, so those are strings here.
    """
    hints = get_type_hints(DeviceRecord)
    columns: dict[str, Any] = {}
    for name in exports.TABLE_FIELDS:
        hint = hints[name]
        if hint == datetime | None:
            hint = str | None
        columns[name] = (hint, ...)
    return create_model(
        "DeviceOut",
        __config__=ConfigDict(extra="allow"),
        __doc__="One device, exactly the record of the JSON export (``camsweep.exports.export_record``).",
        **columns,
    )


if TYPE_CHECKING:
    DeviceOut = BaseModel
else:
    DeviceOut = _export_record_model()


class DeviceDetailOut(BaseModel):
    id: int
    device: DeviceOut
    evidence: list[dict[str, Any]]
    annotations: list[dict[str, Any]]


def _as_utc(when: datetime) -> datetime:
    # The inventory stores naive UTC; RFC 3339 (OpenAPI "date-time") needs the offset.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class ScanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    site: str
    targets: list[str]
    status: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None
    addresses_total: int
    addresses_done: int


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: UtcDatetime
    actor: str
    action: str
    detail: dict[str, Any]


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    networks: list[str] = Field(description="CIDR networks a scan of the site may cover.")
    created_at: UtcDatetime


MAX_SITE_NETWORKS = 256
MAX_NETWORK_LEN = 64  # "ffff:...:ffff/128" is 43 characters


class SiteIn(BaseModel):
    networks: list[Annotated[str, Field(min_length=1, max_length=MAX_NETWORK_LEN)]] = Field(
        min_length=1,
        max_length=MAX_SITE_NETWORKS,
        description="The site's networks (CIDR, e.g. 10.20.0.0/24); they replace any declared before. "
        "Public address space is refused.",
    )


class ErrorOut(BaseModel):
    detail: str


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No session and no valid bearer token."},
    403: {"model": ErrorOut, "description": "The user's role does not allow this (or a CSRF check failed)."},
}
WITH_404: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    404: {"model": ErrorOut, "description": "No such device."},
}


class AnnotationIn(BaseModel):
    # At least one character that str.strip() keeps (which also strips \x1c-\x1f, unlike
    # the regex \s of pydantic-core); no NUL (PostgreSQL text cannot hold it).  Found by schemathesis.
    text: str = Field(
        min_length=1, max_length=MAX_ANNOTATION_LEN, pattern=r"^[^\x00]*[^\s\x00\x1c-\x1f][^\x00]*$"
    )


class WhoAmI(BaseModel):
    name: str
    role: str
    permissions: list[str]


def _formats() -> dict[str, tuple[Callable[..., Any], str, str]]:
    """Every export format the exports module offers: name -> (renderer, media type, suffix)."""
    found: dict[str, tuple[Callable[..., Any], str, str]] = {
        "json": (exports.to_json, "application/json", "json"),
        "csv": (exports.to_csv, "text/csv; charset=utf-8", "csv"),
    }
    to_xlsx = getattr(exports, "to_xlsx", None)
    if callable(to_xlsx):
        found["xlsx"] = (
            to_xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    return found


def invalid(field: str, message: str, where: str = "query") -> RequestValidationError:
    """A 422 in FastAPI's own error shape (the one the OpenAPI schema documents)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, field), "msg": message, "input": None}]
    )


def _clean(value: str | None, field: str = "value") -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_FILTER_LEN:
        raise invalid(field, f"a filter value is at most {MAX_FILTER_LEN} characters")
    return value or None


def _naive_utc(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is not None:
        return when.astimezone(UTC).replace(tzinfo=None)
    return when


#: Row ids are INTEGER on PostgreSQL (32-bit): larger ids cannot exist, and would overflow the driver.
MAX_DB_ID = 2**31 - 1
DeviceId = Annotated[int, PathParam(ge=1, le=MAX_DB_ID)]
ScanId = Annotated[int, PathParam(ge=1, le=MAX_DB_ID)]
SiteName = Annotated[str, PathParam(min_length=1, max_length=MAX_FILTER_LEN, pattern=r"^[^\x00]*\S[^\x00]*$")]

FilterText = Annotated[str | None, Query(max_length=MAX_FILTER_LEN)]


def _filter(values: dict[str, str | None], seen_since: datetime | None, cameras_only: bool) -> DeviceFilter:
    cleaned = {name: _clean(values.get(name), name) for name in FILTER_FIELDS}
    return DeviceFilter(**cleaned, seen_since=_naive_utc(seen_since), cameras_only=cameras_only)


def api_device_filter(
    site: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="Site name (case-insensitive).")
    ] = None,
    brand: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="Brand on the box, e.g. Amcrest.")
    ] = None,
    manufacturer: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="Who really made it, e.g. Dahua.")
    ] = None,
    model: FilterText = None,
    category: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="camera, nvr, ptz, ...")
    ] = None,
    connectivity: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="networked, standalone, missing, ...")
    ] = None,
    firmware: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="Substring of the firmware version.")
    ] = None,
    policy_flag: Annotated[
        str | None, Query(max_length=MAX_FILTER_LEN, description="One policy flag, e.g. NDAA-889.")
    ] = None,
    advisory: Annotated[str | None, Query(max_length=MAX_FILTER_LEN, description="One advisory id.")] = None,
    seen_since: Annotated[
        datetime | None, Query(description="Last seen at or after this date-time (UTC if no offset).")
    ] = None,
    cameras_only: Annotated[bool, Query(description="Only devices identified as cameras.")] = False,
) -> DeviceFilter:
    """The same filters as ``camsweep devices`` and the exports (``DeviceFilter``)."""
    values = {k: v for k, v in locals().items() if k in FILTER_FIELDS}
    return _filter(values, seen_since, cameras_only)


def page_device_filter(request: Request) -> DeviceFilter:
    """The inventory form's filters: an HTML form sends empty fields, and a date for ``seen_since``."""
    q = request.query_params
    since: datetime | None = None
    text = _clean(q.get("seen_since"), "seen_since")
    if text:
        try:
            since = datetime.fromisoformat(text)
        except ValueError:
            raise invalid("seen_since", f"{text!r} is not an ISO date or date-time") from None
    cameras_only = q.get("cameras_only", "").lower() in ("1", "true", "on", "yes")
    return _filter({name: q.get(name) for name in FILTER_FIELDS}, since, cameras_only)


ApiFilter = Annotated[DeviceFilter, Depends(api_device_filter)]
PageFilter = Annotated[DeviceFilter, Depends(page_device_filter)]
bearer = HTTPBearer(auto_error=False, description="An API token from `camsweep users token NAME`.")


def _evidence_rows(inventory: Inventory, device_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for obs in inventory.device_observations(device_id):
        for ev in obs.evidence:
            rows.append(
                {
                    "key": ev.key,
                    "value": ev.value,
                    "source": ev.source,
                    "probe": obs.probe,
                    "port": obs.port,
                    "status": obs.status.value,
                }
            )
    return rows


def session_user(request: Request) -> tuple[User, str] | None:
    data = request.app.state.signer.read_session(request.cookies.get(SESSION_COOKIE))
    if data is None:
        return None
    user = request.app.state.accounts.get_user(data.user)
    return (user, data.csrf) if user else None


def page_user(request: Request) -> tuple[User, str]:
    found = session_user(request)
    if found is None:
        raise LoginRequired()
    return found


def api_user(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> User:
    if creds is not None:
        user = request.app.state.accounts.user_for_token(creds.credentials)
        if user is None:
            raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
        return user
    found = session_user(request)
    if found is None:
        raise HTTPException(401, "log in or send an API token", headers={"WWW-Authenticate": "Bearer"})
    user, csrf = found
    # A browser session may also use the API; a state change then needs the CSRF header.
    if request.method not in ("GET", "HEAD") and not tokens_match(
        csrf, request.headers.get("X-CSRF-Token", "")
    ):
        raise HTTPException(403, "CSRF token missing or wrong")
    return user


PageUser = Annotated[tuple[User, str], Depends(page_user)]
ApiUser = Annotated[User, Depends(api_user)]


def create_app(db_url: str, secret: str | None = None, secure_cookies: bool = False) -> FastAPI:
    """The dashboard for the inventory at ``db_url``.

    ``secret`` signs session cookies; without one a random secret is made, so
    sessions end when the server restarts.  ``secure_cookies`` marks cookies
    Secure (set it behind an HTTPS proxy).
    """
    inventory = Inventory(db_url)
    accounts = Accounts(inventory)
    signer = Signer(secret or secrets.token_urlsafe(32))
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["version"] = __version__
    scan_tasks: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for task in list(scan_tasks):  # a scan started from the web ends with the server
            task.cancel()
        await asyncio.gather(*scan_tasks, return_exceptions=True)
        inventory.close()

    app = FastAPI(
        lifespan=lifespan,
        title="camsweep",
        version=__version__,
        description="The camsweep inventory: devices, scans and the audit log. "
        "Authenticate with `Authorization: Bearer <token>` (tokens from `camsweep users token NAME`).",
        docs_url=None,  # Swagger UI loads from a CDN; the schema itself is at /openapi.json
        redoc_url=None,
        openapi_url=None,  # served below, behind login like everything else
    )
    app.state.inventory = inventory
    app.state.accounts = accounts
    app.state.signer = signer
    format_pattern = "^(" + "|".join(_formats()) + ")$"
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # -- security plumbing ------------------------------------------------

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def require(user: User, permission: str) -> None:
        if not user.can(permission):
            raise HTTPException(403, f"role {user.role!r} may not {permission}")

    def check_csrf(csrf: str, given: str) -> None:
        if not tokens_match(csrf, given):
            raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        found = session_user(request)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"user": found[0] if found else None, "csrf": found[1] if found else "", "error": exc},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        message = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        return await http_error(request, StarletteHTTPException(422, message))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return await http_error(request, StarletteHTTPException(404, str(exc)))

    def render(
        request: Request, name: str, who: tuple[User, str], status_code: int = 200, **ctx: Any
    ) -> Response:
        return templates.TemplateResponse(
            request, name, {"user": who[0], "csrf": who[1], **ctx}, status_code=status_code
        )

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    # -- login -----------------------------------------------------------

    def _safe_next(target: str) -> str:
        # Only local paths: "//host" or "/\host" would send the user off-site (open redirect).
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            return "/"
        return target

    def login_form(request: Request, next_url: str, error: str = "", status_code: int = 200) -> Response:
        cookie, token = signer.new_login_token()
        response = templates.TemplateResponse(
            request,
            "login.html",
            {"user": None, "csrf": token, "next": _safe_next(next_url), "error": error},
            status_code=status_code,
        )
        response.set_cookie(
            LOGIN_COOKIE, cookie, httponly=True, samesite="strict", secure=secure_cookies, path="/login"
        )
        return response

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        return login_form(request, next)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not signer.check_login_token(request.cookies.get(LOGIN_COOKIE), csrf_token):
            raise HTTPException(403, "CSRF token missing or wrong: reload the login page and try again")
        user = accounts.authenticate(username, password)
        inventory.log_action(
            "login",
            actor=username[:64].replace("\x00", "\ufffd"),  # PostgreSQL text cannot hold NUL
            outcome="success" if user else "failure",
            client=client(request),
        )
        if user is None:
            return login_form(request, next, "Wrong user name or password.", status_code=401)
        cookie, _data = signer.new_session(user.name)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(who: PageUser, csrf_token: Annotated[str, Form()] = "") -> Response:
        check_csrf(who[1], csrf_token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- pages -----------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def inventory_page(request: Request, who: PageUser, where: PageFilter) -> Response:
        devices = inventory.devices(where)
        query = {k: v for k, v in where.describe().items() if k in FILTER_FIELDS}
        if where.cameras_only:
            query["cameras_only"] = "true"
        if where.seen_since is not None:
            query["seen_since"] = where.seen_since.isoformat()
        return render(
            request,
            "inventory.html",
            who,
            devices=devices,
            where=where,
            filter_fields=FILTER_FIELDS,
            formats=list(_formats()),
            export_query=urlencode(query),
        )

    @app.get("/devices/{device_id}", include_in_schema=False)
    def device_page(request: Request, who: PageUser, device_id: DeviceId) -> Response:
        device = inventory.get_device(device_id)
        evidence = _evidence_rows(inventory, device_id)
        # Re-run the pure matcher over the stored evidence to explain the conclusion.
        explanation = identify([Evidence(e["key"], e["value"], e["source"]) for e in evidence]).explanation
        history = inventory.actions_for_device(device_id)
        return render(
            request,
            "device.html",
            who,
            device=device,
            evidence=evidence,
            explanation=explanation,
            annotations=accounts.annotations(device_id),
            history=history,
            events=inventory.device_events(device_id),
            max_annotation=MAX_ANNOTATION_LEN,
        )

    @app.post("/devices/{device_id}/annotations", include_in_schema=False)
    def annotate_page(
        who: PageUser,
        device_id: DeviceId,
        text: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who[1], csrf_token)
        require(who[0], "annotate")
        _annotate(who[0], device_id, text)
        return RedirectResponse(f"/devices/{device_id}#annotations", status_code=303)

    def _annotate(user: User, device_id: int, text: str) -> dict[str, Any]:
        inventory.get_device(device_id)  # 404 before anything is written
        try:
            note = accounts.annotate(device_id, user.name, text)
        except ConfigError as exc:
            raise invalid("text", str(exc), where="body") from exc
        inventory.log_action(
            "annotate",
            actor=user.name,
            device_id=device_id,
            annotation_id=note.id,
            fields={"note": note.text},
        )
        return {"id": note.id, "author": note.author, "text": note.text, "created_at": note.created_at}

    def _export(user: User, where: DeviceFilter, fmt: str, via: str) -> Response:
        require(user, "export")
        formats = _formats()
        if fmt not in formats:
            raise invalid("format", f"{fmt!r} is not one of: {', '.join(formats)}")
        render_fn, media, suffix = formats[fmt]
        devices = inventory.devices(where)
        body = render_fn(devices)
        inventory.log_action(
            "export", actor=user.name, format=fmt, filter=where.describe(), devices=len(devices), via=via
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="camsweep-inventory-{stamp}.{suffix}"'},
        )

    @app.get("/export", include_in_schema=False)
    def export_page(who: PageUser, where: PageFilter, format: str = "csv") -> Response:
        return _export(who[0], where, format, via="web")

    @app.get("/scans", include_in_schema=False)
    def scans_page(request: Request, who: PageUser) -> Response:
        return render(
            request,
            "scans.html",
            who,
            scans=list(reversed(inventory.scans())),
            sites=inventory.sites(),
            error="",
            message="",
        )

    @app.post("/scans", include_in_schema=False)
    async def start_scan_page(
        request: Request,
        who: PageUser,
        targets: Annotated[str, Form()] = "",
        site: Annotated[str, Form()] = "default",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who[1], csrf_token)
        require(who[0], "scan")
        try:
            scan_request = _scan_request(targets, site, who[0].name)
            await asyncio.to_thread(api.check_scan_request, scan_request)
        except CamsweepError as exc:
            return render(
                request,
                "scans.html",
                who,
                status_code=422,
                scans=list(reversed(inventory.scans())),
                sites=inventory.sites(),
                error=str(exc),
                message="",
            )
        _start_scan(scan_request, who[0])
        return RedirectResponse("/scans?started=1", status_code=303)

    def _scan_request(targets: str, site: str, operator: str) -> api.ScanRequest:
        words = targets.replace(",", " ").split()
        if not words or len(targets) > MAX_TARGETS_LEN:
            raise ConfigError(f"give 1-{MAX_TARGETS_LEN} characters of targets")
        if any(w.startswith("@") for w in words):
            # @file reads a file on the server: fine from a shell, never from a web form.
            raise ConfigError("target files (@file) are for the command line; list the targets here")
        site = site.strip() or "default"
        if len(site) > MAX_FILTER_LEN:
            raise ConfigError(f"a site name is at most {MAX_FILTER_LEN} characters")
        # The web never widens the scope: public space stays refused, as without --allow-public.
        # A configured site narrows it to the site's networks, as the CLI's --site does.
        networks = next((x.networks for x in inventory.sites() if x.name == site), [])
        scope = Scope(
            allow_public=False,
            site_networks=tuple(ipaddress.ip_network(n) for n in networks),
            site_name=site if networks else None,
        )
        return api.ScanRequest(targets=words, site=site, scope=scope, operator=operator)

    def _start_scan(scan_request: api.ScanRequest, user: User) -> None:
        inventory.log_action(
            "scan", actor=user.name, targets=list(scan_request.targets), site=scan_request.site
        )
        task = asyncio.create_task(api.scan_async(scan_request, inventory))
        scan_tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            scan_tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("scan of %s failed: %s", scan_request.targets, t.exception())

        task.add_done_callback(done)

    @app.get("/scans/{scan_id}", include_in_schema=False)
    def scan_page(request: Request, who: PageUser, scan_id: ScanId) -> Response:
        scan = inventory.get_scan(scan_id)  # NotFoundError: 404 "scan N does not exist"
        previous = inventory.previous_scan(scan.site, scan.id)
        diff = inventory.diff_scans(previous.id, scan.id) if previous else None
        return render(request, "scan.html", who, scan=scan, diff=diff)

    def _sites_page(
        request: Request, who: tuple[User, str], error: str = "", status_code: int = 200
    ) -> Response:
        return render(
            request, "sites.html", who, status_code=status_code, sites=inventory.sites(), error=error
        )

    @app.get("/sites", include_in_schema=False)
    def sites_page(request: Request, who: PageUser) -> Response:
        return _sites_page(request, who)

    @app.post("/sites", include_in_schema=False)
    def configure_site_page(
        request: Request,
        who: PageUser,
        name: Annotated[str, Form(max_length=MAX_FILTER_LEN)] = "",
        networks: Annotated[str, Form(max_length=MAX_TARGETS_LEN)] = "",
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who[1], csrf_token)
        require(who[0], "configure")
        try:
            _configure_site(who[0], name, networks.replace(",", " ").split())
        except ConfigError as exc:
            return _sites_page(request, who, error=str(exc), status_code=422)
        return RedirectResponse("/sites?saved=1", status_code=303)

    def _configure_site(user: User, name: str, networks: list[str]) -> Any:
        # The web never declares public space (the flag is the inventory's, for the command line).
        return inventory.set_site(name, networks, actor=user.name, allow_public=False)

    @app.get("/audit", include_in_schema=False)
    def audit_page(request: Request, who: PageUser, action: str | None = None) -> Response:
        require(who[0], "verify")
        entries = list(reversed(inventory.actions(_clean(action))))
        return render(request, "audit.html", who, entries=entries, action=action or "")

    @app.get("/charts", include_in_schema=False)
    def charts_page(request: Request, who: PageUser) -> Response:
        devices = inventory.devices()
        today = datetime.now(UTC).date()
        figures = [
            (
                "Who really made them",
                charts.bar_chart("Devices by manufacturer", charts.count_by(devices, "manufacturer")),
            ),
            ("Brands on the box", charts.bar_chart("Devices by brand", charts.count_by(devices, "brand"))),
            ("Categories", charts.bar_chart("Devices by category", charts.count_by(devices, "category"))),
            (
                "Networked vs standalone",
                charts.bar_chart("Devices by connectivity", charts.count_by(devices, "connectivity")),
            ),
            (
                "Firmware age (since first seen)",
                charts.bar_chart("Firmware age", charts.firmware_age(devices, today)),
            ),
            (
                "Policy-flagged devices over time",
                charts.line_chart("Flagged devices over time", charts.flagged_over_time(devices)),
            ),
        ]
        return render(request, "charts.html", who, figures=figures, total=len(devices))

    # -- JSON API --------------------------------------------------------

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema(user: ApiUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/whoami", response_model=WhoAmI, tags=["account"], responses=AUTH_ERRORS)
    def whoami(user: ApiUser) -> WhoAmI:
        return WhoAmI(name=user.name, role=user.role, permissions=sorted(PERMISSIONS[user.role]))

    @app.get("/api/devices", response_model=list[DeviceOut], tags=["inventory"], responses=AUTH_ERRORS)
    def api_devices(user: ApiUser, where: ApiFilter) -> list[dict[str, Any]]:
        """Devices matching the filters, each exactly as in the JSON export."""
        require(user, "read")
        return [exports.export_record(d) for d in inventory.devices(where)]

    @app.get(
        "/api/devices/{device_id}", response_model=DeviceDetailOut, tags=["inventory"], responses=WITH_404
    )
    def api_device(user: ApiUser, device_id: DeviceId) -> dict[str, Any]:
        """One device: its export record, the evidence seen, and its annotations."""
        require(user, "read")
        device = inventory.get_device(device_id)
        return {
            "id": device.id,
            "device": exports.export_record(device),
            "evidence": _evidence_rows(inventory, device_id),
            "annotations": [
                {"id": a.id, "author": a.author, "text": a.text, "created_at": a.created_at.isoformat() + "Z"}
                for a in accounts.annotations(device_id)
            ],
        }

    @app.post("/api/devices/{device_id}/annotations", status_code=201, tags=["inventory"], responses=WITH_404)
    def api_annotate(user: ApiUser, device_id: DeviceId, body: AnnotationIn) -> dict[str, Any]:
        """Annotate a device (officer or admin); recorded in the audit log."""
        require(user, "annotate")
        return _annotate(user, device_id, body.text)

    @app.get("/api/export", tags=["inventory"], response_class=Response, responses=AUTH_ERRORS)
    def api_export(
        user: ApiUser,
        where: ApiFilter,
        format: str = Query("json", pattern=format_pattern, description="An export format."),
    ) -> Response:
        """The inventory in an export format, as a file; recorded in the audit log."""
        return _export(user, where, format, via="api")

    @app.get("/api/scans", response_model=list[ScanOut], tags=["scans"], responses=AUTH_ERRORS)
    def api_scans(user: ApiUser) -> list[Any]:
        require(user, "read")
        return list(inventory.scans())

    @app.get("/api/sites", response_model=list[SiteOut], tags=["sites"], responses=AUTH_ERRORS)
    def api_sites(user: ApiUser) -> list[Any]:
        """Every site and the networks a scan of it may cover."""
        require(user, "read")
        return list(inventory.sites())

    @app.put(
        "/api/sites/{name}",
        response_model=SiteOut,
        tags=["sites"],
        responses=AUTH_ERRORS,
    )
    def api_configure_site(user: ApiUser, name: SiteName, body: SiteIn) -> Any:
        """Create a site or replace its networks (admin); recorded in the audit log.

        A malformed network or public address space is a 422 naming the network.
        """
        require(user, "configure")
        try:
            return _configure_site(user, name, body.networks)
        except ConfigError as exc:
            # The standard validation-error body, so clients parse one shape of 422.
            raise invalid("networks", str(exc), where="body") from exc

    @app.get("/api/audit-log", response_model=list[AuditOut], tags=["audit"], responses=AUTH_ERRORS)
    def api_audit_log(user: ApiUser, action: str | None = None) -> list[Any]:
        """The audit log, oldest first (auditor or admin)."""
        require(user, "verify")
        return list(inventory.actions(_clean(action)))

    return app
