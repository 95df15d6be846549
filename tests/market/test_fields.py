from __future__ import annotations

import pytest

from market.fields import UINT256_MAX
from market.models import HolderBalance, Token


@pytest.mark.django_db
def test_uint256_keeps_every_digit_and_orders_by_value() -> None:
    token = Token.objects.create(chain_id=1, address="0x" + "11" * 20, first_seen_block=0, total_supply=UINT256_MAX)
    values = [UINT256_MAX, 10**30 + 1, 2**64 + 1, 9, 0]
    for i, value in enumerate(values):
        HolderBalance.objects.create(token=token, address=f"0x{i:040x}", balance=value, updated_block=1)
    token.refresh_from_db()
    assert token.total_supply == UINT256_MAX
    ordered = list(HolderBalance.objects.filter(token=token).order_by("-balance").values_list("balance", flat=True))
    assert ordered == sorted(values, reverse=True)
    assert HolderBalance.objects.filter(token=token, balance__gt=2**64).count() == 3


@pytest.mark.django_db
def test_uint256_refuses_values_outside_the_range() -> None:
    with pytest.raises(ValueError, match="uint256 value out of range"):
        Token.objects.create(chain_id=1, address="0x" + "22" * 20, first_seen_block=0, total_supply=-1)
