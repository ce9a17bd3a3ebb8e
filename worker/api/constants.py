"""Values the API accepts, as the hosted PixVerse API v1 lists them (seed)."""

from __future__ import annotations

from worker.config import MAX_CONCURRENT_JOBS

BASE = "/v1/pixverse"

STYLES: tuple[str, ...] = ("Realistic", "Anime", "3D Animation")
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4")
CHARACTERS: tuple[str, ...] = (
    "eula",
    "ganyu",
    "hutao",
    "kamisatoayaka",
    "keqing",
    "klee",
    "nahida",
    "ningguang",
    "raidenshogun",
    "xiangling",
    "yaemiko",
)
#: ``character`` is used only with this style; otherwise it is ignored (seed).
CHARACTER_STYLE = "Anime"

PROMPT_MAX = 512
REPLY_MAX = 1024
MAX_JOBS_MIN = 1
MAX_JOBS_MAX = MAX_CONCURRENT_JOBS
DEFAULT_MAX_JOBS = MAX_CONCURRENT_JOBS


def one_of(values: tuple[str, ...]) -> str:
    """The list as every "must be one of" error shows it."""
    return ", ".join(values)


#: What ``replyUrl`` must look like (after trimming): http(s), an ASCII host name or IP literal,
#: an optional port, and no spaces or control characters. The OpenAPI document uses it too.
REPLY_URL_PATTERN = (
    r"^https?://([A-Za-z0-9._~%!$&'()*+,;=:-]+@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?"
    r"([/?#][^\x00-\x20\x7f]*)?$"
)
