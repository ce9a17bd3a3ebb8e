"""parse_echo: the bot's `(prompt: … style: … …)` echo, including prompts that look like keys."""

from __future__ import annotations

import pytest

from worker.pixverse import EchoedParams, parse_echo, parse_key_tail, strip_echo

U = "<@1150000000000000001>"


def ack(body: str) -> str:
    return f"{U} We are making videos. We will notify you when it's done. (prompt: {body}) Author: {U}"


def test_seed_ack() -> None:
    echo = parse_echo(
        ack(
            "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert "
            "style: Realistic negative-prompt: sand aspect-ratio: 16:9 character: kamisatoayaka"
        )
    )
    assert echo is not None
    assert echo.prompt == "Milla Jovovich riding motorcycle in extreme stormy weather thru California desert"
    assert (echo.style, echo.negative_prompt, echo.aspect_ratio, echo.character) == (
        "Realistic",
        "sand",
        "16:9",
        "kamisatoayaka",
    )


def test_result_echo_with_subset_of_keys() -> None:
    echo = parse_echo(f"{U} (prompt: a cat style: 3D Animation aspect-ratio: 9:16) Author: {U}")
    assert echo == EchoedParams(
        prompt="a cat",
        style="3D Animation",
        aspect_ratio="9:16",
        body="a cat style: 3D Animation aspect-ratio: 9:16",
    )


@pytest.mark.parametrize(
    ("body", "prompt", "style"),
    [
        # The prompt contains "style:" — the LAST valid " style: " is the key.
        ("a painting style: oil on canvas style: Anime", "a painting style: oil on canvas", "Anime"),
        ("in the style: of Monet style: Realistic aspect-ratio: 1:1", "in the style: of Monet", "Realistic"),
        # Parentheses, and even ") Author:" inside the prompt.
        ("a (very) big dog (happy) style: Anime", "a (very) big dog (happy)", "Anime"),
        ("quote ) Author: fake style: Realistic", "quote ) Author: fake", "Realistic"),
        # Unicode and newlines.
        ("猫が踊る 🐈‍⬛ — ñandú\nsecond line style: Anime", "猫が踊る 🐈‍⬛ — ñandú\nsecond line", "Anime"),
        # Key words without the colon are plain prompt text.
        (
            "style negative-prompt aspect-ratio style: Realistic",
            "style negative-prompt aspect-ratio",
            "Realistic",
        ),
        # Empty prompt.
        ("style: Anime", "", "Anime"),
    ],
)
def test_hard_prompts(body: str, prompt: str, style: str) -> None:
    echo = parse_echo(ack(body))
    assert echo is not None
    assert (echo.prompt, echo.style) == (prompt, style)


def test_negative_prompt_containing_keys() -> None:
    echo = parse_echo(
        ack("cat style: Anime negative-prompt: blur aspect-ratio: wrong, ugly aspect-ratio: 4:3")
    )
    assert echo is not None
    assert echo.prompt == "cat" and echo.style == "Anime"
    assert echo.negative_prompt == "blur aspect-ratio: wrong, ugly"
    assert echo.aspect_ratio == "4:3"


def test_progress_suffix_and_missing_author() -> None:
    echo = parse_echo(ack("dog style: Realistic") + "\nProgress: 45%")
    assert echo is not None and echo.prompt == "dog" and echo.style == "Realistic"
    bare = parse_echo("(prompt: dog (small) style: Anime)\nProgress (10%)")
    assert bare is not None and bare.style is not None
    cut = parse_echo("(prompt: a truncated message style: Anime")
    assert cut is not None and cut.prompt == "a truncated message" and cut.style == "Anime"


def test_no_echo() -> None:
    assert parse_echo("") is None
    assert parse_echo("Apologies! Our AI moderator thinks this prompt ...") is None
    assert parse_echo(None) is None  # type: ignore[arg-type]


def test_no_style_key_keeps_whole_body_as_prompt() -> None:
    echo = parse_echo("(prompt: just words) Author: x")
    assert echo == EchoedParams(prompt="just words", body="just words")


def test_strip_echo_removes_user_text() -> None:
    content = ack("something went wrong, 50% off style: Anime") + "\nProgress: 10%"
    stripped = strip_echo(content)
    assert "something went wrong" not in stripped and "50%" not in stripped
    assert "We are making videos" in stripped and "Progress: 10%" in stripped
    assert strip_echo("no echo here") == "no echo here"


def test_parse_key_tail() -> None:
    tail = parse_key_tail(" negative-prompt: x style: y aspect-ratio: 1:1")
    assert tail is not None and tail.negative_prompt == "x style: y" and tail.aspect_ratio == "1:1"
    assert parse_key_tail("") == EchoedParams()
    assert parse_key_tail(" blah style: anime") is None


def test_pathological_input_is_fast() -> None:
    # Thousands of key-like fragments must not blow up the backtracking.
    body = " style: x negative-prompt: y aspect-ratio:" * 2000
    echo = parse_echo(ack(body))
    assert echo is not None
