"""A simulated Discord (REST + gateway, real wire protocol) with a simulated PixVerse bot.

Real discord.py-self clients connect to it through ``worker.discord.client.configure_endpoints``;
tests, benchmarks and the demo run on it::

    async with SimDiscord(bot=SimBotSettings(result_delay=0.1)) as sim:
        acct = sim.world.add_account("alice")
"""

from .bot import SimBot, SimBotSettings
from .events import InteractionRecord, SimEvents
from .faults import Faults
from .server import SimDiscord
from .world import SimAccount, World

__all__ = [
    "Faults",
    "InteractionRecord",
    "SimAccount",
    "SimBot",
    "SimBotSettings",
    "SimDiscord",
    "SimEvents",
    "World",
]
