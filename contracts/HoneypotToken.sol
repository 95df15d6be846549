// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/access/Ownable.sol";
import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HoneypotToken
/// @notice ERC-20 that can be bought but not sold: transfers into a registered pair revert
///         for everyone except the owner.
/// @dev The owner is allowed so it can seed liquidity (and, as in real scams, dump). Buys
///      (pair -> wallet) and wallet-to-wallet transfers work, so a naive "can I buy?" check
///      passes; the honeypot detector must simulate a sell to catch it.
contract HoneypotToken is ERC20, Ownable {
    mapping(address => bool) public isPair;

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) ERC20(name_, symbol_) {
        _mint(msg.sender, initialSupply);
    }

    function setPair(address pair, bool value) external onlyOwner {
        isPair[pair] = value;
    }

    function _beforeTokenTransfer(address from, address to, uint256 amount) internal override {
        super._beforeTokenTransfer(from, to, amount);
        if (isPair[to] && from != owner()) {
            revert("HoneypotToken: sell blocked");
        }
    }
}
