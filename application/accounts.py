"""Admin users, API tokens and console sessions: who may use the admin API and console.

Passwords are hashed with argon2 (argon2-cffi; its defaults follow RFC 9106's guidance),
verified in a worker thread so a login never stalls the event loop. Tokens and session ids
are 32 random bytes shown once; only their SHA-256 is stored (they are not guessable, so a
slow hash would add nothing). Viewers read; operators also act (``may_act``). Every action is
recorded as ``admin:<name>`` (``actor``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from application.context import AdminContext
from shared.db.admin import AdminUser, Session

Role = Literal["operator", "viewer"]
ROLES: tuple[Role, ...] = ("operator", "viewer")
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TOKEN_PREFIX = "dsk_"
_hasher = PasswordHasher()
# Compared against when the user does not exist, so a wrong name costs what a wrong password
# does (no user enumeration by timing).
_ABSENT = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused account change, with the reason for a person."""


@dataclass(frozen=True)
class NewSession:
    session_id: str  # goes into the cookie; only its hash is stored
    csrf_token: str
    user: AdminUser
    expires_at: datetime


def actor(user: AdminUser) -> str:
    return f"admin:{user.name}"


def may_act(user: AdminUser) -> bool:
    """Operators place, retry, edit addresses, refresh, replay and change settings."""
    return user.role == "operator"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_new_user(name: str, role: str, password: str) -> None:
    if not _NAME.match(name):
        raise AccountError("a user name is 1-64 letters, digits, '.', '_' or '-', starting "
                           "with a letter or digit")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")


async def add_user(ctx: AdminContext, name: str, role: str, password: str) -> AdminUser:
    check_new_user(name, role, password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with ctx.uow() as uow:
        user = await uow.accounts.add_user(name, role, hashed)
        if user is None:
            raise AccountError(f"a user named {name!r} exists already")
        await uow.commit()
    return user


async def set_password(ctx: AdminContext, name: str, password: str) -> bool:
    """A new password for user ``name``; False when there is no such user."""
    check_new_user(name, "viewer", password)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    async with ctx.uow() as uow:
        if await uow.accounts.user(name) is None:
            return False
        await uow.accounts.set_password_hash(name, hashed)
        await uow.commit()
    return True


async def list_users(ctx: AdminContext) -> list[AdminUser]:
    async with ctx.uow() as uow:
        return await uow.accounts.users()


async def remove_user(ctx: AdminContext, name: str) -> bool:
    """Removes the user with their tokens and sessions; False when there was none."""
    async with ctx.uow() as uow:
        removed = await uow.accounts.remove_user(name)
        await uow.commit()
    return removed


async def create_token(ctx: AdminContext, name: str) -> str:
    """A new API token for user ``name``; the only time it is ever shown."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with ctx.uow() as uow:
        user = await uow.accounts.user(name)
        if user is None:
            raise AccountError(f"no user named {name!r}")
        await uow.accounts.add_token(user.id, digest(token))
        await uow.commit()
    return token


async def user_for_token(ctx: AdminContext, token: str) -> AdminUser | None:
    async with ctx.uow() as uow:
        return await uow.accounts.user_by_token(digest(token))


async def login(ctx: AdminContext, name: str, password: str) -> NewSession | None:
    """A new console session, or None for a wrong name or password (not saying which)."""
    async with ctx.uow() as uow:
        user = await uow.accounts.user(name)
        stored = await uow.accounts.password_hash(name)
    if not await asyncio.to_thread(_verify, stored or _ABSENT, password) or user is None:
        return None
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = ctx.clock() + timedelta(hours=ctx.settings.admin_session_hours)
    async with ctx.uow() as uow:
        if stored and _hasher.check_needs_rehash(stored):
            await uow.accounts.set_password_hash(name, await asyncio.to_thread(
                _hasher.hash, password))
        await uow.accounts.add_session(user.id, digest(session_id), csrf, expires)
        await uow.commit()
    return NewSession(session_id, csrf, user, expires)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def session_for(ctx: AdminContext, session_id: str) -> Session | None:
    async with ctx.uow() as uow:
        return await uow.accounts.session(digest(session_id), ctx.clock())


async def logout(ctx: AdminContext, session_id: str) -> None:
    async with ctx.uow() as uow:
        await uow.accounts.remove_session(digest(session_id))
        await uow.commit()
