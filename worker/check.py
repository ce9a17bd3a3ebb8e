"""``pixverse-worker check``: the config is valid (it was loaded), the database answers,
and optionally every enabled account can log in. Exit 0 when all is well, 1 otherwise."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from worker.config import Config
from worker.db.engine import make_engine
from worker.db.migrate import current_revision, head_revision


async def run_check(config: Config, *, login: bool = False) -> int:
    ok = True
    print(f"config: ok ({len(config.accounts)} account(s), {len(config.api.tokens)} API token(s))")
    if not config.api.tokens:
        print("config: api.tokens is empty; the daemon will refuse to start")
        ok = False
    engine = make_engine(config.database.url, busy_timeout_ms=config.database.busy_timeout_ms)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current, head = await current_revision(engine), head_revision()
        state = "up to date" if current == head else f"at {current or 'nothing'}, head is {head} (run migrate)"
        print(f"database: reachable, schema {state}")
    except Exception as exc:
        print(f"database: unreachable ({type(exc).__name__}: {exc})")
        ok = False
    finally:
        await engine.dispose()
    if login:
        ok = await _check_logins(config) and ok
    return 0 if ok else 1


async def _check_logins(config: Config) -> bool:
    from worker.discord.client import configure_endpoints, install_offline_headers, make_client

    configure_endpoints(config.discord.rest_base, config.discord.gateway_base)
    install_offline_headers()
    ok = True
    for account in config.accounts:
        if not account.enabled:
            print(f"account {account.channel}: disabled, not checked")
            continue
        client = make_client()
        try:
            await asyncio.wait_for(client.login(account.discord.get_secret_value()), 30)
            user = client.user
            print(f"account {account.channel}: login ok as {user.name if user else '?'} ({user.id if user else '?'})")
        except Exception as exc:
            # The exception text can carry the request; print its type and Discord's reason only.
            print(f"account {account.channel}: login FAILED ({type(exc).__name__})")
            ok = False
        finally:
            await client.close()
    return ok
