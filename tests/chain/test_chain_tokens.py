"""The project's adversarial test tokens behave as the risk checks will assume."""

from __future__ import annotations

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError

from chain.contracts import contract_at, deploy_contract, transact
from chain.deploy import create_pool_with_liquidity
from tests.chain.conftest import World
from tests.chain.helpers import deadline, erc20

ETH = 10**18


def test_tax_token_takes_buy_and_sell_tax(w3: Web3, world: World, accounts: list[ChecksumAddress]) -> None:
    deployer, buyer, treasury = accounts[0], accounts[2], accounts[9]
    token = deploy_contract(w3, "TaxToken", "Taxed", "TAX", 10**9 * ETH, treasury, 500, 1_000, sender=deployer)
    pair = create_pool_with_liquidity(
        w3,
        dex=world.dex_a,
        token_a=token.address,
        amount_a=10**8 * ETH,
        token_b=world.weth,
        amount_b=10 * ETH,
        provider=deployer,
    )
    transact(w3, token.functions.setPair(pair, True), sender=deployer)
    router = contract_at(w3, "UniswapV2Router02", world.dex_a.router)
    path_buy = [world.weth, token.address]

    # Buy: the pair sends `gross`, the buyer gets gross minus 5%, the treasury the rest.
    gross = router.functions.getAmountsOut(ETH // 10, path_buy).call()[-1]
    treasury_before = token.functions.balanceOf(treasury).call()
    transact(
        w3,
        router.functions.swapExactETHForTokensSupportingFeeOnTransferTokens(0, path_buy, buyer, deadline(w3)),
        sender=buyer,
        value=ETH // 10,
    )
    buy_tax = gross * 500 // 10_000
    assert buy_tax > 0
    assert token.functions.balanceOf(buyer).call() == gross - buy_tax
    assert token.functions.balanceOf(treasury).call() - treasury_before == buy_tax

    # Sell: a plain router sell breaks the pair's K check; the fee-on-transfer variant works.
    amount = token.functions.balanceOf(buyer).call() // 2
    transact(w3, token.functions.approve(world.dex_a.router, 2 * amount), sender=buyer)
    path_sell = [token.address, world.weth]
    with pytest.raises(ContractLogicError, match="UniswapV2: K"):
        transact(w3, router.functions.swapExactTokensForETH(amount, 0, path_sell, buyer, deadline(w3)), sender=buyer)
    pair_before = token.functions.balanceOf(pair).call()
    treasury_before = token.functions.balanceOf(treasury).call()
    transact(
        w3,
        router.functions.swapExactTokensForETHSupportingFeeOnTransferTokens(amount, 0, path_sell, buyer, deadline(w3)),
        sender=buyer,
    )
    sell_tax = amount * 1_000 // 10_000
    assert token.functions.balanceOf(treasury).call() - treasury_before == sell_tax
    assert token.functions.balanceOf(pair).call() - pair_before == amount - sell_tax

    # Wallet-to-wallet transfers are untaxed.
    transact(w3, token.functions.transfer(accounts[3], 1_000), sender=buyer)
    assert token.functions.balanceOf(accounts[3]).call() == 1_000


def test_honeypot_can_be_bought_but_not_sold(w3: Web3, world: World, accounts: list[ChecksumAddress]) -> None:
    deployer, victim = accounts[0], accounts[4]
    token = deploy_contract(w3, "HoneypotToken", "Honey", "HONEY", 10**9 * ETH, sender=deployer)
    pair = create_pool_with_liquidity(
        w3,
        dex=world.dex_b,
        token_a=token.address,
        amount_a=10**8 * ETH,
        token_b=world.weth,
        amount_b=10 * ETH,
        provider=deployer,
    )
    transact(w3, token.functions.setPair(pair, True), sender=deployer)
    router = contract_at(w3, "UniswapV2Router02", world.dex_b.router)

    expected = router.functions.getAmountsOut(ETH // 10, [world.weth, token.address]).call()[-1]
    transact(
        w3,
        router.functions.swapExactETHForTokens(0, [world.weth, token.address], victim, deadline(w3)),
        sender=victim,
        value=ETH // 10,
    )
    bought = token.functions.balanceOf(victim).call()
    assert bought == expected > 0

    transact(w3, token.functions.approve(world.dex_b.router, bought), sender=victim)
    with pytest.raises(ContractLogicError, match="TRANSFER_FROM_FAILED"):
        transact(
            w3,
            router.functions.swapExactTokensForETHSupportingFeeOnTransferTokens(
                bought, 0, [token.address, world.weth], victim, deadline(w3)
            ),
            sender=victim,
        )
    with pytest.raises(ContractLogicError, match="HoneypotToken: sell blocked"):
        transact(w3, token.functions.transfer(pair, 1), sender=victim)
    # Ordinary transfers still work (so a naive check passes), and the owner can sell.
    transact(w3, token.functions.transfer(accounts[5], 10), sender=victim)
    transact(w3, token.functions.transfer(pair, 10), sender=deployer)
    assert token.functions.balanceOf(victim).call() == bought - 10


def test_owner_can_mint_and_others_cannot(w3: Web3, accounts: list[ChecksumAddress]) -> None:
    owner, holder, attacker = accounts[0], accounts[5], accounts[6]
    token = deploy_contract(w3, "MintableToken", "Mintable", "MINT", 9, 1_000 * 10**9, owner, sender=owner)
    assert token.functions.decimals().call() == 9
    assert token.functions.owner().call() == owner

    transact(w3, token.functions.mint(holder, 5 * 10**9), sender=owner)
    assert token.functions.totalSupply().call() == 1_005 * 10**9
    assert token.functions.balanceOf(holder).call() == 5 * 10**9
    with pytest.raises(ContractLogicError, match="Ownable: caller is not the owner"):
        transact(w3, token.functions.mint(attacker, 1), sender=attacker)
    assert token.functions.totalSupply().call() == 1_005 * 10**9


def test_bytes32_metadata_token(w3: Web3, accounts: list[ChecksumAddress]) -> None:
    token = deploy_contract(
        w3, "Bytes32MetadataToken", b"Maker".ljust(32, b"\0"), b"MKR".ljust(32, b"\0"), 10**24, sender=accounts[0]
    )
    assert token.functions.name().call().rstrip(b"\0") == b"Maker"
    assert token.functions.symbol().call().rstrip(b"\0") == b"MKR"
    # A client assuming the usual string ABI cannot decode it; the raw word is the name.
    raw = w3.eth.call({"to": token.address, "data": erc20(w3, token.address).encode_abi("name")})
    assert len(raw) == 32 and raw.rstrip(b"\0") == b"Maker"
    transact(w3, token.functions.transfer(accounts[1], 5), sender=accounts[0])
    assert token.functions.balanceOf(accounts[1]).call() == 5


def test_reverting_metadata_token(w3: Web3, accounts: list[ChecksumAddress]) -> None:
    token = deploy_contract(w3, "RevertingToken", "BROKEN", 10**21, sender=accounts[0])
    with pytest.raises(ContractLogicError, match="no decimals"):
        token.functions.decimals().call()
    with pytest.raises(ContractLogicError, match="no name"):
        token.functions.name().call()
    assert token.functions.symbol().call() == "BROKEN"
    transact(w3, token.functions.transfer(accounts[1], 7), sender=accounts[0])
    assert token.functions.balanceOf(accounts[1]).call() == 7
