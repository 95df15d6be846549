// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title OddLogToken
/// @notice An ERC-20 that can also emit a Transfer log in the ERC-721 layout (token id as a
///         fourth topic, no data).
/// @dev Real chains carry such logs under the same topic as ERC-20 transfers; the indexer must
///      record and skip them with a reason instead of crashing or misreading an amount.
contract OddLogToken is ERC20 {
    bytes32 private constant TRANSFER_TOPIC = keccak256("Transfer(address,address,uint256)");

    constructor(uint256 initialSupply) ERC20("Odd Log", "ODD") {
        _mint(msg.sender, initialSupply);
    }

    function emitNftStyleTransfer(address to, uint256 tokenId) external {
        bytes32 topic = TRANSFER_TOPIC;
        assembly {
            log4(0, 0, topic, caller(), to, tokenId)
        }
    }
}
