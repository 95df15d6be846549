// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/access/Ownable.sol";
import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TaxToken
/// @notice ERC-20 that skims a percentage of every buy (pair -> wallet) and sell
///         (wallet -> pair) to a treasury, like the "tax" tokens common on DEXes.
/// @dev Transfers that do not touch a registered pair are untaxed, and the owner and the
///      treasury are exempt so liquidity can be seeded at face value. Because the recipient
///      gets less than the pair sent, sells through a Uniswap V2 router must use the
///      `...SupportingFeeOnTransferTokens` functions; the plain ones fail with `UniswapV2: K`.
///      The owner can change the rates later, which is itself a risk worth flagging.
contract TaxToken is ERC20, Ownable {
    uint16 public constant MAX_TAX_BPS = 10_000;

    address public treasury;
    uint16 public buyTaxBps;
    uint16 public sellTaxBps;
    mapping(address => bool) public isPair;
    mapping(address => bool) public isTaxExempt;

    event TaxesChanged(uint16 buyTaxBps, uint16 sellTaxBps);
    event PairSet(address indexed pair, bool isPair);
    event TaxTaken(address indexed from, address indexed to, uint256 amount);

    constructor(
        string memory name_,
        string memory symbol_,
        uint256 initialSupply,
        address treasury_,
        uint16 buyTaxBps_,
        uint16 sellTaxBps_
    ) ERC20(name_, symbol_) {
        require(buyTaxBps_ <= MAX_TAX_BPS && sellTaxBps_ <= MAX_TAX_BPS, "TaxToken: tax too high");
        treasury = treasury_;
        buyTaxBps = buyTaxBps_;
        sellTaxBps = sellTaxBps_;
        isTaxExempt[msg.sender] = true;
        isTaxExempt[treasury_] = true;
        _mint(msg.sender, initialSupply);
    }

    function setPair(address pair, bool value) external onlyOwner {
        isPair[pair] = value;
        emit PairSet(pair, value);
    }

    function setTaxes(uint16 buyTaxBps_, uint16 sellTaxBps_) external onlyOwner {
        require(buyTaxBps_ <= MAX_TAX_BPS && sellTaxBps_ <= MAX_TAX_BPS, "TaxToken: tax too high");
        buyTaxBps = buyTaxBps_;
        sellTaxBps = sellTaxBps_;
        emit TaxesChanged(buyTaxBps_, sellTaxBps_);
    }

    function setTaxExempt(address account, bool value) external onlyOwner {
        isTaxExempt[account] = value;
    }

    function _transfer(address from, address to, uint256 amount) internal override {
        uint256 taxBps = 0;
        if (!isTaxExempt[from] && !isTaxExempt[to]) {
            if (isPair[from]) {
                taxBps = buyTaxBps;
            } else if (isPair[to]) {
                taxBps = sellTaxBps;
            }
        }
        uint256 tax = (amount * taxBps) / 10_000;
        if (tax > 0) {
            super._transfer(from, treasury, tax);
            emit TaxTaken(from, to, tax);
        }
        super._transfer(from, to, amount - tax);
    }
}
