"""The local social feed: short posts about tokens, written as JSON lines.

Sentiment scoring reads this feed later; the simulator writes it so that wording follows
the scripted scenarios (hype before a pump, "rug"/"scam" after a rug or dump, "can't
sell" around a honeypot), which gives the scorer something true to find.

File: ``<VAR_DIR>/social/posts-<chain_id>.jsonl``, one object per line, ordered by time::

    {"id": 17, "timestamp": 1761000000, "time": "2025-10-20T22:40:00Z",
     "author": "@moonwatcher", "symbol": "FROG", "token": "0xAbC...", "text": "...",
     "likes": 12, "reposts": 3}
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

POSITIVE = (
    "${sym} is just getting started, chart looks amazing",
    "loaded another bag of ${sym}, this one is going to the moon",
    "${sym} community is insane right now, early gem",
    "breakout incoming on ${sym}, volume climbing",
    "${sym} devs are cooking, bullish",
    "don't fade ${sym}, 10x from here",
    "${sym} just flipped resistance, send it",
)
NEUTRAL = (
    "anyone looking at ${sym}?",
    "${sym} chopping sideways today",
    "added ${sym} to the watchlist",
    "what's the story with ${sym}",
    "${sym} volume is quiet",
)
NEGATIVE = (
    "${sym} is bleeding, I'm out",
    "stay away from ${sym}, looks like a scam",
    "${sym} dev dumped on us, rug",
    "liquidity pulled on ${sym}?? that's a rug",
    "can't sell ${sym}, honeypot, do not buy",
    "${sym} down bad, who is still holding",
    "${sym} chart is dead",
)
HYPE = (
    "${sym} about to go parabolic, get in before it's too late",
    "everyone is talking about ${sym}, next 100x",
    "${sym} to the moon, last chance under a penny",
)
HONEYPOT_WARNINGS = (
    "tried to sell ${sym} and the tx failed, honeypot",
    "${sym} sell reverted, can't sell, scam",
)

TONE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "positive": POSITIVE,
    "neutral": NEUTRAL,
    "negative": NEGATIVE,
    "hype": HYPE,
    "honeypot": HONEYPOT_WARNINGS,
}

AUTHORS = tuple(
    f"@{a}{b}"
    for a in ("moon", "degen", "alpha", "chart", "whale", "gem", "based", "anon")
    for b in ("watcher", "hunter", "calls", "wizard", "maxi")
)


@dataclass(frozen=True)
class SocialPost:
    """One post; ``timestamp`` is unix seconds (UTC), ``token`` a checksummed address."""

    id: int
    timestamp: int
    time: str
    author: str
    symbol: str
    token: str
    text: str
    likes: int
    reposts: int


def social_feed_path(var_dir: Path, chain_id: int) -> Path:
    """``<var_dir>/social/posts-<chain_id>.jsonl``."""
    return Path(var_dir) / "social" / f"posts-{chain_id}.jsonl"


class SocialFeed:
    """Writes posts for the simulator: buffer an hour, then append them sorted by time."""

    def __init__(self, path: Path, rng: random.Random, *, truncate: bool = True) -> None:
        self.path = path
        self.rng = rng
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("w" if truncate else "a")
        self._pending: list[SocialPost] = []
        self.count = 0

    def post(
        self, *, symbol: str, token: str, tone: str, start: int, span: int, authors: tuple[str, ...] = AUTHORS
    ) -> None:
        """Queue one post in ``tone`` at a random second of ``[start, start + span)``."""
        rng = self.rng
        timestamp = start + rng.randrange(max(span, 1))
        text = rng.choice(TONE_TEMPLATES[tone]).replace("${sym}", f"${symbol}")
        popular = tone in ("hype", "negative", "honeypot")
        self.count += 1
        self._pending.append(
            SocialPost(
                id=self.count,
                timestamp=timestamp,
                time=dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                author=rng.choice(authors),
                symbol=symbol,
                token=token,
                text=text,
                likes=int(rng.paretovariate(1.2) * (20 if popular else 5)),
                reposts=int(rng.paretovariate(1.5) * (4 if popular else 1)),
            )
        )

    def flush(self) -> None:
        """Append the queued posts ordered by timestamp (then id) and flush the file."""
        for post in sorted(self._pending, key=lambda p: (p.timestamp, p.id)):
            self._file.write(json.dumps(asdict(post), separators=(",", ":")) + "\n")
        self._pending.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()


def read_posts(
    path: Path,
    *,
    symbol: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> Iterator[SocialPost]:
    """Yield posts from a feed file, optionally only one ``symbol`` and ``since <= timestamp < until``.

    A missing file yields nothing (no simulation has run yet); a truncated last line (the
    writer is mid-append) is skipped rather than failing the reader.
    """
    if not path.exists():
        return
    with path.open() as handle:
        for line in handle:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            post = SocialPost(**raw)
            if symbol is not None and post.symbol != symbol:
                continue
            if since is not None and post.timestamp < since:
                continue
            if until is not None and post.timestamp >= until:
                continue
            yield post
