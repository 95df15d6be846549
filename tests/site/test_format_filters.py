from __future__ import annotations

import pytest

from wallets.templatetags.site_format import grade, percent, signed, trend, usd_compact, usd_price


@pytest.mark.parametrize("filter_", [usd_compact, usd_price, signed, grade, percent])
@pytest.mark.parametrize("unknown", [None, ""])
def test_an_unknown_figure_shows_a_dash_instead_of_failing_the_page(filter_, unknown) -> None:  # type: ignore[no-untyped-def]
    # "" is what a template passes for a missing related row, e.g. a token not rated yet.
    assert filter_(unknown) == "—"


def test_figures_keep_their_units_and_signs() -> None:
    assert usd_compact(1_234_567) == "$1.23M"
    assert signed(2.345, 2) == "+2.35"
    assert trend(-0.1) == "down" and trend("") == "flat"
