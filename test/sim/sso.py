"""Authorization of SSO routes.

There is no SSO server yet: a request without a bearer token is refused
with 401, as ESI does.  The simulator's own test tokens "sim-<character_id>"
stand for a character that granted every scope: they read that character's
routes (its wallet, assets, ...) and nothing else (403); corporation routes,
which need roles too, and any other token get 403.  A later SSO simulator
will replace check() with JWT validation (signature, expiry, scope,
character) behind the same interface.
"""

TEST_TOKEN_PREFIX = "sim-"


class SsoAuthority:
    def check(self, route, headers, path_args):
        """None when the request may proceed, else (status, error message)."""
        if route.auth != "sso":
            return None
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return 401, "authentication failure"
        token = auth[7:].strip()
        if token.startswith(TEST_TOKEN_PREFIX) and not route.roles and \
                path_args.get("character_id") == token[len(TEST_TOKEN_PREFIX):]:
            return None
        return 403, "token not valid for scope"
