"""All accounts the daemon knows: from the YAML file, added through the API, and ad hoc."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from worker.config import AccountSettings
from worker.db.models import Account
from worker.driver import AccountView
from worker.logs import SCRUBBER
from worker.timeutil import utcnow

log = logging.getLogger(__name__)

ChangeListener = Callable[[list[AccountView], list[AccountView]], None]


def view_from_settings(account: AccountSettings) -> AccountView:
    return AccountView(
        channel=account.channel,
        server=account.server,
        token=account.discord.get_secret_value(),
        max_jobs=account.max_jobs,
        enabled=account.enabled,
        reply_url=account.reply_url,
        source="config",
    )


def _view_from_row(row: Account) -> AccountView:
    return AccountView(
        channel=row.channel,
        server=row.server,
        token=row.discord_token,
        max_jobs=row.max_jobs,
        enabled=row.enabled,
        reply_url=row.reply_url,
        source=row.source,
    )


class AccountRegistry:
    """Accounts by channel. YAML accounts win over API-added ones with the same channel.

    Listeners are told ``(added_or_changed, removed)`` after every change, so the Discord
    driver can open and close exactly the sessions that changed.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._config: dict[str, AccountView] = {}
        self._stored: dict[str, AccountView] = {}
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    async def load(self, config_accounts: Iterable[AccountSettings]) -> None:
        async with self._sessions() as session:
            rows = (await session.execute(select(Account))).scalars()
            self._stored = {row.channel: _view_from_row(row) for row in rows}
        self._config = {a.channel: view_from_settings(a) for a in config_accounts}

    # -- reads ---------------------------------------------------------------------------

    def _effective(self) -> dict[str, AccountView]:
        merged = dict(self._stored)
        merged.update(self._config)
        return merged

    def get(self, channel: str) -> AccountView | None:
        return self._effective().get(channel)

    def listed(self) -> list[AccountView]:
        """Accounts shown by ``GET account``: configured and API-added, not ad hoc."""
        return [a for a in self._effective().values() if a.source != "adhoc"]

    def all(self) -> list[AccountView]:
        """Every account with a session to keep, ad hoc included."""
        return list(self._effective().values())

    def find_token(self, token: str) -> AccountView | None:
        return next((a for a in self._effective().values() if a.token == token), None)

    # -- writes --------------------------------------------------------------------------

    def replace_config(self, config_accounts: Iterable[AccountSettings]) -> tuple[list[str], list[str]]:
        """Hot reload: swap the YAML accounts; returns (changed channels, removed channels)."""
        before = self._effective()
        self._config = {a.channel: view_from_settings(a) for a in config_accounts}
        return self._diff(before)

    async def put(self, view: AccountView) -> None:
        """Store an API-added (or ad-hoc) account; it survives restarts."""
        # Known to the log scrubber before anything (the SQL write included) can log it.
        SCRUBBER.update([view.token])
        before = self._effective()
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(Account, view.channel)
            if row is None:
                row = Account(channel=view.channel, created=now)
                session.add(row)
            row.server = view.server
            row.discord_token = view.token
            row.max_jobs = view.max_jobs
            row.reply_url = view.reply_url
            row.enabled = view.enabled
            row.source = view.source
            row.updated = now
        self._stored[view.channel] = view
        self._diff(before)

    async def delete(self, channel: str) -> bool:
        """Forget an API-added account. YAML accounts are removed by editing the file."""
        before = self._effective()
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Account).where(Account.channel == channel))
        existed = self._stored.pop(channel, None) is not None or bool(result.rowcount)  # type: ignore[attr-defined]
        self._diff(before)
        return existed

    def _diff(self, before: dict[str, AccountView]) -> tuple[list[str], list[str]]:
        after = self._effective()
        changed = [after[c] for c in after if before.get(c) != after[c]]
        removed = [before[c] for c in before if c not in after]
        if changed or removed:
            log.info(
                "accounts changed: %d added or changed, %d removed",
                len(changed),
                len(removed),
            )
            for listener in self._listeners:
                try:
                    listener(changed, removed)
                except Exception:
                    log.exception("account listener failed")
        return [a.channel for a in changed], [a.channel for a in removed]
