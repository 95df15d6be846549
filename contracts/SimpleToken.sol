// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title SimpleToken
/// @notice Plain fixed-supply ERC-20 with configurable decimals.
/// @dev OpenZeppelin's ERC20PresetFixedSupply is hard-wired to 18 decimals; the indexer and
///      the price maths must also be exercised with 6- and 9-decimal tokens (USDC-like,
///      many meme tokens), so the local chain needs a token whose decimals are a parameter.
contract SimpleToken is ERC20 {
    uint8 private immutable _decimals;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        uint256 initialSupply,
        address initialHolder
    ) ERC20(name_, symbol_) {
        _decimals = decimals_;
        _mint(initialHolder, initialSupply);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}
