// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

interface IV2Pair {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface IWETH9 {
    function deposit() external payable;
    function withdraw(uint256 amount) external;
}

/// @title SwapExecutor
/// @notice Executes a route that is split across several fills, each fill a chain of
///         Uniswap V2-style pairs (possibly on different DEXes), in one transaction with a
///         single min-out and deadline.
/// @dev Talks to pairs directly instead of routers so one route can mix DEXes with
///      different fees (`feeBps` per fill, 30 = 0.3%). Each hop's input is measured as
///      `balanceOf(pair) - reserve`, like Uniswap's fee-on-transfer router, so taxed tokens
///      work. Tokens are pulled from the caller straight into the first pair of each fill
///      and ERC-20 output goes straight to the recipient, so the contract never holds
///      tokens; only WETH is held transiently when the output is ETH.
contract SwapExecutor {
    using SafeERC20 for IERC20;

    /// @dev A fill: send `amountIn` of the route's input through `pairs` in order.
    struct Fill {
        address[] pairs;
        uint256 amountIn;
        uint16 feeBps;
    }

    /// @dev Pseudo-address standing for native ETH as `tokenIn` or `tokenOut`.
    address public constant ETH = address(0);

    address public immutable weth;

    event RouteExecuted(
        address indexed sender,
        address indexed recipient,
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 amountOut
    );

    constructor(address weth_) {
        weth = weth_;
    }

    /// @dev Only WETH unwrapping may send ETH here; anything else would be stranded.
    receive() external payable {
        require(msg.sender == weth, "SwapExecutor: ETH not from WETH");
    }

    /// @notice Swap `amountIn` of `tokenIn` for at least `minAmountOut` of `tokenOut`.
    /// @param tokenIn Input token, or `ETH` (address(0)) to pay with `msg.value`.
    /// @param amountIn Total input; must equal the sum of the fills' `amountIn`.
    /// @param tokenOut Output token, or `ETH` to receive native ETH.
    /// @param fills Split of the input; each fill's pairs must chain from tokenIn to tokenOut.
    /// @param minAmountOut Revert unless the recipient receives at least this much.
    /// @param recipient Receiver of the output.
    /// @param deadline Revert if the transaction is mined after this unix timestamp.
    /// @return amountOut What the recipient actually received.
    function execute(
        address tokenIn,
        uint256 amountIn,
        address tokenOut,
        Fill[] calldata fills,
        uint256 minAmountOut,
        address recipient,
        uint256 deadline
    ) external payable returns (uint256 amountOut) {
        require(block.timestamp <= deadline, "SwapExecutor: expired");
        require(fills.length > 0, "SwapExecutor: no fills");
        require(recipient != address(0) && recipient != address(this), "SwapExecutor: bad recipient");

        if (tokenIn == ETH) {
            require(msg.value == amountIn, "SwapExecutor: wrong msg.value");
            IWETH9(weth).deposit{value: amountIn}();
        } else {
            require(msg.value == 0, "SwapExecutor: unexpected ETH");
        }

        uint256 total;
        (amountOut, total) = _fillAndMeasure(tokenIn, tokenOut, fills, recipient);
        require(total == amountIn, "SwapExecutor: fills do not sum to amountIn");
        require(amountOut >= minAmountOut, "SwapExecutor: insufficient output");

        if (tokenOut == ETH) {
            IWETH9(weth).withdraw(amountOut);
            (bool ok, ) = recipient.call{value: amountOut}("");
            require(ok, "SwapExecutor: ETH transfer failed");
        }
        emit RouteExecuted(msg.sender, recipient, tokenIn, tokenOut, amountIn, amountOut);
    }

    /// @notice Output of one V2 hop for `amountIn`, fee in basis points (30 = Uniswap V2).
    function getAmountOut(
        uint256 amountIn,
        uint256 reserveIn,
        uint256 reserveOut,
        uint16 feeBps
    ) public pure returns (uint256) {
        require(amountIn > 0, "SwapExecutor: zero input");
        require(reserveIn > 0 && reserveOut > 0, "SwapExecutor: no liquidity");
        uint256 amountInWithFee = amountIn * (10_000 - feeBps);
        return (amountInWithFee * reserveOut) / (reserveIn * 10_000 + amountInWithFee);
    }

    /// @dev Run all fills and measure what the recipient gained. ERC-20 output lands
    ///      directly with the recipient; ETH output is collected here as WETH first.
    function _fillAndMeasure(
        address tokenIn,
        address tokenOut,
        Fill[] calldata fills,
        address recipient
    ) private returns (uint256 amountOut, uint256 total) {
        address routeIn = tokenIn == ETH ? weth : tokenIn;
        address routeOut = tokenOut == ETH ? weth : tokenOut;
        address finalTo = tokenOut == ETH ? address(this) : recipient;
        uint256 before = IERC20(routeOut).balanceOf(finalTo);
        total = _runFills(tokenIn, routeIn, routeOut, fills, finalTo);
        amountOut = IERC20(routeOut).balanceOf(finalTo) - before;
    }

    /// @dev Fund and swap every fill; returns the summed input. Split out of `execute` to
    ///      stay within the EVM stack limit without needing via-IR.
    function _runFills(
        address tokenIn,
        address routeIn,
        address routeOut,
        Fill[] calldata fills,
        address finalTo
    ) private returns (uint256 total) {
        for (uint256 i = 0; i < fills.length; i++) {
            Fill calldata fill = fills[i];
            require(fill.pairs.length > 0, "SwapExecutor: empty fill");
            require(fill.feeBps < 10_000, "SwapExecutor: bad fee");
            total += fill.amountIn;
            if (tokenIn == ETH) {
                IERC20(routeIn).safeTransfer(fill.pairs[0], fill.amountIn);
            } else {
                IERC20(tokenIn).safeTransferFrom(msg.sender, fill.pairs[0], fill.amountIn);
            }
            address last = _swapAlong(fill.pairs, routeIn, fill.feeBps, finalTo);
            require(last == routeOut, "SwapExecutor: route does not end in tokenOut");
        }
    }

    /// @dev Swap through `pairs` (input already sent to pairs[0]); returns the last output token.
    function _swapAlong(
        address[] calldata pairs,
        address input,
        uint16 feeBps,
        address finalTo
    ) private returns (address) {
        for (uint256 j = 0; j < pairs.length; j++) {
            address to = j + 1 < pairs.length ? pairs[j + 1] : finalTo;
            input = _hop(pairs[j], input, feeBps, to);
        }
        return input;
    }

    /// @dev One V2 swap of whatever `input` the pair has received beyond its reserve.
    function _hop(address pair, address input, uint16 feeBps, address to) private returns (address output) {
        address token0 = IV2Pair(pair).token0();
        bool zeroForOne = input == token0;
        output = zeroForOne ? IV2Pair(pair).token1() : token0;
        require(zeroForOne || input == IV2Pair(pair).token1(), "SwapExecutor: pair does not hold input");
        (uint112 reserve0, uint112 reserve1, ) = IV2Pair(pair).getReserves();
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne
            ? (uint256(reserve0), uint256(reserve1))
            : (uint256(reserve1), uint256(reserve0));
        uint256 amountOut = getAmountOut(IERC20(input).balanceOf(pair) - reserveIn, reserveIn, reserveOut, feeBps);
        if (zeroForOne) {
            IV2Pair(pair).swap(0, amountOut, to, new bytes(0));
        } else {
            IV2Pair(pair).swap(amountOut, 0, to, new bytes(0));
        }
    }
}
