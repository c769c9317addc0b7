"""Session cookies and CSRF tokens.

The session is a cookie signed with itsdangerous (HMAC-SHA1 over a timestamped
payload), HttpOnly and SameSite=Strict, holding the user name and that
session's CSRF token.  Every form POST must echo the CSRF token (synchroniser
token pattern, OWASP CSRF cheat sheet); the login form, which has no session
yet, uses a signed double-submit cookie instead.  A new session (and token) is
issued at login, so a token planted before login is worthless (session fixation).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "camsweep_session"
LOGIN_COOKIE = "camsweep_login"
SESSION_MAX_AGE_S = 12 * 3600
LOGIN_FORM_MAX_AGE_S = 3600
#: Cookies longer than this are ignored unread (a browser sends at most ~4 KiB per cookie).
MAX_COOKIE_LEN = 4096


@dataclass(frozen=True, slots=True)
class SessionData:
    user: str
    csrf: str


class Signer:
    """Signs and checks the session and login cookies with one secret."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="camsweep-session")
        self._login = URLSafeTimedSerializer(secret, salt="camsweep-login")

    def new_session(self, user: str) -> tuple[str, SessionData]:
        data = SessionData(user, secrets.token_urlsafe(32))
        return self._session.dumps({"u": data.user, "c": data.csrf}), data

    def read_session(self, cookie: str | None) -> SessionData | None:
        if not cookie or len(cookie) > MAX_COOKIE_LEN:
            return None
        try:
            payload = self._session.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(payload, dict):
            return None
        user, csrf = payload.get("u"), payload.get("c")
        if not isinstance(user, str) or not isinstance(csrf, str):
            return None
        return SessionData(user, csrf)

    def new_login_token(self) -> tuple[str, str]:
        """(cookie value, form token) for the login form's double-submit check."""
        token = secrets.token_urlsafe(32)
        return self._login.dumps(token), token

    def check_login_token(self, cookie: str | None, form_token: str) -> bool:
        if not cookie or not form_token or len(cookie) > MAX_COOKIE_LEN:
            return False
        try:
            token = self._login.loads(cookie, max_age=LOGIN_FORM_MAX_AGE_S)
        except BadSignature:
            return False
        return isinstance(token, str) and secrets.compare_digest(token, form_token)


def tokens_match(expected: str, given: str) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())
