"""VADER scoring of posts and the local feed source."""

from __future__ import annotations

import json

from ratings.sentiment import LocalFeedSource, posts_score, sentiment_score


def test_crypto_slang_scores_with_the_right_sign():
    assert sentiment_score("$FROG dev dumped on us, rug") < -0.3
    assert sentiment_score("can't sell $FROG, honeypot, do not buy") < -0.3
    assert sentiment_score("$FROG to the moon, bullish") > 0.3
    assert abs(sentiment_score("added $FROG to the watchlist")) < 0.3


def test_local_feed_reads_posts_in_a_time_range(tmp_path):
    feed = tmp_path / "social" / "posts-5.jsonl"
    feed.parent.mkdir()
    rows = [
        {"id": i, "timestamp": 1_000 + i * 10, "token": "0xAbC", "text": text, "author": "@a"}
        for i, text in enumerate(["rug", "moon", "scam"])
    ]
    feed.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    source = LocalFeedSource.for_chain(var_dir=tmp_path, chain_id=5)
    posts = list(source.posts(since=1_005, until=1_021))
    assert [p.text for p in posts] == ["moon", "scam"]
    scored = posts_score(posts)
    assert scored[0].score > 0 > scored[1].score
    assert list(LocalFeedSource(tmp_path / "missing.jsonl").posts()) == []
