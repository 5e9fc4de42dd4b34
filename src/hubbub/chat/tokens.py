"""Signed identity tokens (JWT, HS256) handed out by ``register`` and checked at ``$connect``.

Verification pins the algorithm list, so ``alg: none`` and algorithm-confusion tokens are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User

__all__ = [
    "OPERATOR_TOKEN_TTL_S",
    "UNSUBSCRIBE_TTL_S",
    "TokenIssuer",
    "issue_unsubscribe",
    "verify_unsubscribe",
]

OPERATOR_TOKEN_TTL_S = 12 * 3600
"""An operator's token lasts 12 hours unless configured (``OPERATOR_TOKEN_TTL_SECONDS``)."""
UNSUBSCRIBE_TTL_S = 365 * 24 * 3600
"""An unsubscribe link in an email works for a year."""
_UNSUBSCRIBE = "unsubscribe"
_ALGORITHM = "HS256"
_ISSUER = "hubbub"


def _checked(secret: bytes) -> bytes:
    if len(secret) < 32:
        raise ValueError("token secret must be at least 32 bytes")
    return secret


class TokenIssuer:
    """``secret`` is the key itself, or where to get it on each use: then only the functions
    that sign or verify read it (Disconnect and FanOut never do, so their roles may not read
    the secret), and the source decides how long to cache it (Secrets Manager rotation)."""

    def __init__(
        self,
        secret: bytes | Callable[[], bytes],
        ttl_s: int,
        *,
        operator_ttl_s: int = OPERATOR_TOKEN_TTL_S,
    ) -> None:
        if isinstance(secret, bytes):
            key = _checked(secret)
            self._secret: Callable[[], bytes] = lambda: key
        else:
            self._secret = lambda: _checked(secret())
        self._ttl = ttl_s
        self._operator_ttl = operator_ttl_s

    def secret(self) -> bytes:
        """The signing key, for the other tokens signed with it (unsubscribe links)."""
        return self._secret()

    def lifetime_s(self, user: User) -> int:
        """How long a token issued now for ``user`` lasts: operators' tokens are short, since
        they open the desk; the console renews its token with ``refresh`` before it expires."""
        return self._operator_ttl if user.role is Role.OPERATOR else self._ttl

    def expires_at_ms(self, user: User, now_ms: int) -> int:
        """When a token issued at ``now_ms`` for ``user`` stops working (ms since the epoch)."""
        return (now_ms // 1000 + self.lifetime_s(user)) * 1000

    def issue(self, user: User, now_ms: int, *, ttl_s: int | None = None) -> str:
        jwt = _jwt()
        now = now_ms // 1000
        claims = {
            "iss": _ISSUER,
            "sub": user.id,
            "role": user.role.value,
            "nick": user.nickname,
            "iat": now,
            "exp": now + (self.lifetime_s(user) if ttl_s is None else ttl_s),
        }
        token: str = jwt.encode(claims, self._secret(), algorithm=_ALGORITHM)
        return token

    def verify(self, token: str, now_ms: int) -> User:
        claims = _decode(
            self._secret(),
            token,
            now_ms,
            require=("exp", "iat", "sub", "iss"),
            refusal="invalid token",
            expiry="token expired",
        )
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "invalid token") from None
        if role is Role.GUEST:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "invalid token")
        nick = claims.get("nick")
        return User(UserId(str(claims["sub"])), role, None if nick is None else str(nick))


def issue_unsubscribe(issuer: TokenIssuer, visitor_id: UserId, now_ms: int) -> str:
    """The token of an email's unsubscribe link: signed like a sign-in token but with no role
    and a ``use`` claim, so neither is taken for the other (``verify`` refuses a token without a
    role; ``verify_unsubscribe`` one without this ``use``)."""
    now = now_ms // 1000
    claims = {"iss": _ISSUER, "sub": visitor_id, "use": _UNSUBSCRIBE, "iat": now}
    claims["exp"] = now + UNSUBSCRIBE_TTL_S
    token: str = _jwt().encode(claims, issuer.secret(), algorithm=_ALGORITHM)
    return token


def verify_unsubscribe(issuer: TokenIssuer, token: str, now_ms: int) -> UserId:
    """The visitor an unsubscribe token names; ``unauthorized`` for anything else."""
    refusal = "invalid link"
    claims = _decode(
        issuer.secret(),
        token,
        now_ms,
        require=("exp", "sub", "iss", "use"),
        refusal=refusal,
        expiry=refusal,
    )
    if claims.get("use") != _UNSUBSCRIBE:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, refusal)
    return UserId(str(claims["sub"]))


def _decode(
    secret: bytes,
    token: str,
    now_ms: int,
    *,
    require: tuple[str, ...],
    refusal: str,
    expiry: str,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, algorithm, issuer, required claims and expiry
    hold; ``unauthorized`` with ``refusal`` (or ``expiry`` for an expired one) otherwise. Every
    kind of token hubbub signs is checked here, so the pinned algorithm list (no ``alg: none``,
    no algorithm confusion) and the issuer can't drift apart between them. Expiry is judged by
    the clock we are given, not the machine's (PyJWT's own time checks are off), so tests and
    the runtime's controllable clock may move time."""
    jwt = _jwt()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": list(require), "verify_iat": False, "verify_exp": False},
            leeway=0,
        )
    except jwt.InvalidTokenError:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, refusal) from None
    try:
        expires_s = int(claims["exp"])
    except (TypeError, ValueError):
        raise ProtocolError(ErrorCode.UNAUTHORIZED, refusal) from None
    if expires_s <= now_ms // 1000:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, expiry)
    return claims


def _jwt() -> Any:
    """PyJWT, imported on first use: it pulls in ``cryptography`` when that is installed, which
    would cost every cold start ~150 ms although HS256 never needs it."""
    import jwt

    return jwt
