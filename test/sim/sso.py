"""Authorization of SSO routes.

For now there is no SSO server: a request without a bearer token is refused
with 401 and one with any bearer token with 403, as ESI does for a missing or
an unsuitable token.  A later SSO simulator will replace check() with JWT
validation (signature, expiry, scope, character) behind the same interface.
"""


class SsoAuthority:
    def check(self, route, headers, path_args):
        """None when the request may proceed, else (status, error message)."""
        if route.auth != "sso":
            return None
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return 401, "authentication failure"
        return 403, "token not valid for scope"
