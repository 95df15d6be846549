// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title RevertingToken
/// @notice ERC-20 whose `name()` and `decimals()` revert (symbol and transfers work).
/// @dev Real tokens with broken or missing metadata exist; the indexer must record them
///      with fallbacks instead of crashing or dropping their transfers.
contract RevertingToken is ERC20 {
    constructor(string memory symbol_, uint256 initialSupply) ERC20("", symbol_) {
        _mint(msg.sender, initialSupply);
    }

    function name() public pure override returns (string memory) {
        revert("RevertingToken: no name");
    }

    function decimals() public pure override returns (uint8) {
        revert("RevertingToken: no decimals");
    }
}
