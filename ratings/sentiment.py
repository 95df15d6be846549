"""Social sentiment: where posts come from, and how each is scored.

A ``SocialSource`` yields posts about tokens; ``LocalFeedSource`` reads the JSON-lines feed
the market simulator writes (``<VAR_DIR>/social/posts-<chain_id>.jsonl``). A production
source (an X/Telegram/Farcaster reader) implements the same ``posts`` method. Scores are
VADER compound scores in -1..1 (``vaderSentiment``), with crypto slang added to its lexicon
so "rug", "honeypot" and "moon" count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_THRESHOLD = 0.05  # VADER's own cut-off for a positive compound score
# Lexicon valences on VADER's -4..4 scale for words its general-English lexicon lacks.
CRYPTO_LEXICON = {
    "rug": -3.0,
    "rugged": -3.0,
    "scam": -3.0,
    "honeypot": -3.2,
    "dumped": -2.5,
    "dump": -2.0,
    "rekt": -2.5,
    "bleeding": -2.0,
    "moon": 2.5,
    "parabolic": 2.0,
    "bullish": 2.5,
    "bearish": -2.5,
    "gem": 2.0,
    "breakout": 1.5,
    "10x": 2.5,
    "100x": 2.5,
    "cooking": 1.5,
    "unsellable": -3.2,
}
# Phrases rewritten before scoring: VADER's negation rule would otherwise read "can't sell ...,
# honeypot" as a negated (so positive) "honeypot".
CRYPTO_PHRASES = {
    "can't sell": "unsellable",
    "cannot sell": "unsellable",
    "cant sell": "unsellable",
    "sell reverted": "unsellable",
    "do not buy": "avoid",
    "don't buy": "avoid",
    "don't fade": "bullish",
    "flipped resistance": "breakout",
}


@dataclass(frozen=True)
class Post:
    """A post about one token: ``timestamp`` unix seconds UTC, ``token`` a checksummed address."""

    timestamp: int
    token: str
    text: str
    author: str = ""


class SocialSource(Protocol):
    def posts(self, *, since: int | None = None, until: int | None = None) -> Iterable[Post]:
        """Posts with ``since <= timestamp < until`` (unix seconds; None leaves that end open)."""
        ...


class LocalFeedSource:
    """The simulator's feed file; missing file means no posts yet."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_chain(cls, *, var_dir: Path, chain_id: int) -> LocalFeedSource:
        return cls(Path(var_dir) / "social" / f"posts-{chain_id}.jsonl")

    def posts(self, *, since: int | None = None, until: int | None = None) -> Iterator[Post]:
        if not self.path.exists():
            return
        with self.path.open() as feed:
            for line in feed:
                if not line.strip():
                    continue
                raw = json.loads(line)
                ts = int(raw["timestamp"])
                if (since is not None and ts < since) or (until is not None and ts >= until):
                    continue
                yield Post(
                    timestamp=ts, token=raw.get("token", ""), text=raw.get("text", ""), author=raw.get("author", "")
                )


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(CRYPTO_LEXICON)
    return analyzer


def sentiment_score(text: str) -> float:
    """VADER compound score of one post, -1 (negative) .. 1 (positive)."""
    lowered = text.lower()
    for phrase, word in CRYPTO_PHRASES.items():
        lowered = lowered.replace(phrase, word)
    return float(_analyzer().polarity_scores(lowered)["compound"])


@dataclass(frozen=True)
class ScoredPost:
    timestamp: int
    token: str
    score: float


def posts_score(posts: Iterable[Post]) -> list[ScoredPost]:
    # Identical texts are common (templates, reposts); score each distinct text once.
    cache: dict[str, float] = {}
    scored = []
    for post in posts:
        if post.text not in cache:
            cache[post.text] = sentiment_score(post.text)
        scored.append(ScoredPost(post.timestamp, post.token, cache[post.text]))
    return scored


def feed_time(value: datetime) -> int:
    return int(value.timestamp())
