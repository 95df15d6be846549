// Swap widget: quote, approve, swap with the visitor's own EIP-1193 wallet (window.ethereum).
// No dependencies. Amounts are BigInt base units end to end; the server quotes, builds and
// simulates, the wallet signs. Flow: connect -> right chain -> quote (refreshed) -> build ->
// approve if needed (then build again, now simulated without an override) -> swap -> receipt.
(function () {
  "use strict";

  const root = document.querySelector("[data-swap-widget]");
  if (!root) return;
  const config = JSON.parse(document.getElementById(root.dataset.config).textContent);
  const form = root.querySelector("[data-swap-form]");
  if (!form || !config.buy) return;

  const $ = (sel) => root.querySelector(sel);
  const el = {
    pay: $("[data-pay]"), amount: $("[data-amount]"), slippage: $("[data-slippage]"),
    quote: $("[data-quote]"), details: $("[data-details]"), buyAmount: $("[data-buy-amount]"),
    minBuy: $("[data-min-buy]"), impact: $("[data-impact]"), route: $("[data-route]"), fee: $("[data-fee]"),
    tax: $("[data-tax]"), warning: $("[data-warning]"), confirmRow: $("[data-confirm-row]"),
    confirm: $("[data-confirm-impact]"), connect: $("[data-connect]"), switchBtn: $("[data-switch]"),
    swap: $("[data-swap]"), status: $("[data-status]"), tx: $("[data-tx]"), txHash: $("[data-tx-hash]"),
    txState: $("[data-tx-state]"), balance: $("[data-balance]"),
  };
  const REFRESH_MS = 10000;
  const WARN_BPS = 300;
  const CONFIRM_BPS = 1000;
  const chainHex = "0x" + Number(config.chainId).toString(16);
  const state = { account: null, chainOk: false, quote: null, busy: false, timer: null, seq: 0 };

  // --- units ---------------------------------------------------------------------------
  function parseUnits(text, decimals) {
    const clean = String(text).trim().replace(/,/g, "");
    if (!/^\d*\.?\d*$/.test(clean) || clean === "" || clean === ".") return null;
    const [whole, frac = ""] = clean.split(".");
    if (frac.length > decimals) return null;
    return BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  }
  function formatUnits(value, decimals, digits = 6) {
    const v = BigInt(value);
    const base = 10n ** BigInt(decimals);
    const whole = v / base;
    let frac = (v % base).toString().padStart(decimals, "0").slice(0, digits).replace(/0+$/, "");
    return frac ? `${whole}.${frac}` : whole.toString();
  }
  const payOption = () => config.pay.find((p) => p.address === el.pay.value) || config.pay[0];
  const hex = (n) => "0x" + BigInt(n).toString(16);

  // --- messages --------------------------------------------------------------------------
  function setStatus(text, isError = false) {
    el.status.textContent = text;
    el.status.classList.toggle("error", isError);
  }
  function walletError(err) {
    const code = err && (err.code ?? (err.data && err.data.code));
    if (code === 4001) return "You rejected the request in your wallet; nothing was sent.";
    if (code === 4100) return "The wallet has not authorised this site: connect first.";
    if (code === 4902) return `Your wallet does not know chain ${config.chainId}; add it in the wallet, then retry.`;
    if (code === -32002) return "The wallet already has a request open: check its window.";
    const message = (err && (err.message || String(err))) || "unknown error";
    if (/revert/i.test(message)) return `The wallet says the transaction would revert: ${message}`;
    if (/insufficient funds/i.test(message)) return "Not enough ETH to pay for the amount and the network fee.";
    return `Wallet error: ${message}`;
  }
  function apiError(body, status) {
    const e = body && body.error;
    if (!e) return `The server answered ${status}.`;
    return e.message || `The server answered ${status}.`;
  }

  // --- wallet ----------------------------------------------------------------------------
  const wallet = () => window.ethereum;
  async function request(method, params = []) {
    return wallet().request({ method, params });
  }
  async function checkChain() {
    const current = await request("eth_chainId");
    state.chainOk = parseInt(current, 16) === Number(config.chainId);
    el.switchBtn.hidden = state.chainOk;
    if (!state.chainOk) setStatus(`Wrong network: your wallet is on chain ${parseInt(current, 16)}, this swap is on chain ${config.chainId}.`, true);
    return state.chainOk;
  }
  async function connect() {
    if (!wallet()) { setStatus("No wallet found: install a browser wallet (EIP-1193) to swap.", true); return; }
    try {
      const accounts = await request("eth_requestAccounts");
      state.account = accounts[0] || null;
      el.connect.textContent = state.account ? `${state.account.slice(0, 6)}…${state.account.slice(-4)}` : "Connect wallet";
      if (state.account && (await checkChain())) setStatus("Wallet connected.");
      refreshQuote();
    } catch (err) { setStatus(walletError(err), true); }
  }
  async function switchChain() {
    try {
      await request("wallet_switchEthereumChain", [{ chainId: chainHex }]);
      if (await checkChain()) setStatus("Network switched.");
      refreshQuote();
    } catch (err) { setStatus(walletError(err), true); }
  }
  async function waitReceipt(hash) {
    for (let i = 0; i < 600; i++) {
      const receipt = await request("eth_getTransactionReceipt", [hash]);
      if (receipt) return receipt;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("no receipt after 5 minutes; check the transaction in your wallet");
  }
  async function sendTx(tx) {
    const params = { from: state.account, to: tx.to, data: tx.data, value: hex(tx.value || 0) };
    if (tx.gas) params.gas = hex(tx.gas);
    return request("eth_sendTransaction", [params]);
  }
  async function buyBalance() {
    const data = "0x70a08231" + state.account.slice(2).toLowerCase().padStart(64, "0");
    const raw = await request("eth_call", [{ to: config.buy.address, data }, "latest"]);
    return BigInt(raw);
  }

  // --- quote -----------------------------------------------------------------------------
  function slippageBps() {
    const pct = Number(el.slippage.value);
    return Number.isFinite(pct) ? Math.round(pct * 100) : NaN;
  }
  function clearQuote(text) {
    state.quote = null;
    el.details.hidden = true;
    el.quote.textContent = text;
    el.swap.disabled = true;
  }
  function renderQuote(q) {
    const pay = payOption();
    const buyDec = config.buy.decimals;
    const impact = Number(q.priceImpactBps || 0);
    el.quote.textContent = `${formatUnits(q.sellAmount, pay.decimals)} ${pay.symbol} → ${formatUnits(q.buyAmount, buyDec)} ${config.buy.symbol} (block ${q.blockNumber})`;
    el.buyAmount.textContent = `${formatUnits(q.buyAmount, buyDec)} ${config.buy.symbol}`;
    el.minBuy.textContent = `${formatUnits(q.minBuyAmount, buyDec)} ${config.buy.symbol}`;
    el.impact.textContent = `${(impact / 100).toFixed(2)}%`;
    const fills = new Map();
    for (const f of q.route.fills) if (!fills.has(f.pool)) fills.set(f.pool, f);
    el.route.textContent = q.route.fills.map((f) => `${f.source} ${(Number(f.proportionBps) / 100).toFixed(1)}%`).filter((v, i, a) => a.indexOf(v) === i).join(" + ") + (q.route.kind === "split" ? " (split)" : "");
    const usd = q.networkFeeUsd != null ? ` ≈ $${Number(q.networkFeeUsd).toFixed(2)}` : "";
    el.fee.textContent = `${formatUnits(q.totalNetworkFee, 18, 8)} ETH${usd}`;
    const meta = q.tokenMetadata.buyToken;
    el.tax.textContent = Number(meta.buyTaxBps) || Number(meta.sellTaxBps) ? `buy ${Number(meta.buyTaxBps) / 100}% · sell ${Number(meta.sellTaxBps) / 100}%` : "none detected";
    el.details.hidden = false;
    const warnings = [];
    if (impact > CONFIRM_BPS) warnings.push(`Price impact ${(impact / 100).toFixed(1)}%: you would get much less than the market price. Tick the box to accept.`);
    else if (impact > WARN_BPS) warnings.push(`Price impact ${(impact / 100).toFixed(1)}% is high.`);
    if (Number(meta.buyTaxBps) || Number(meta.sellTaxBps)) warnings.push(`${config.buy.symbol} takes a tax on trades; the amounts above include it.`);
    if (q.issues.balance) warnings.push(`Your balance (${formatUnits(q.issues.balance.actual, pay.decimals)} ${pay.symbol}) is below the amount.`);
    el.warning.hidden = warnings.length === 0;
    el.warning.textContent = warnings.join(" ");
    el.warning.classList.toggle("danger", impact > CONFIRM_BPS);
    el.confirmRow.hidden = impact <= CONFIRM_BPS;
    el.swap.disabled = state.busy || !state.account || !state.chainOk || !!q.issues.balance || (impact > CONFIRM_BPS && !el.confirm.checked);
    el.swap.textContent = q.issues.allowance ? `Approve ${pay.symbol} and swap` : "Swap";
  }
  async function fetchQuote() {
    const pay = payOption();
    const amount = parseUnits(el.amount.value, pay.decimals);
    if (amount === null || amount === 0n) { clearQuote("Enter an amount to get a quote."); return null; }
    const bps = slippageBps();
    if (!(bps >= 1 && bps <= 500)) { clearQuote("Slippage must be between 0.01% and 5%."); return null; }
    const params = new URLSearchParams({ chainId: config.chainId, sellToken: pay.address, buyToken: config.buy.address, sellAmount: amount.toString(), slippageBps: String(bps) });
    if (state.account) params.set("taker", state.account);
    const seq = ++state.seq;
    const response = await fetch(`${config.quoteUrl}?${params}`, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (seq !== state.seq) return null; // a newer request superseded this one
    if (!response.ok) { clearQuote(apiError(body, response.status)); return null; }
    state.quote = body;
    renderQuote(body);
    return body;
  }
  function refreshQuote() {
    clearTimeout(state.timer);
    if (state.busy) return;
    fetchQuote().catch((err) => clearQuote(`Quote failed: ${err.message || err}`)).finally(() => {
      state.timer = setTimeout(refreshQuote, REFRESH_MS);
    });
  }

  // --- build, approve, swap ----------------------------------------------------------------
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function build(quoteId) {
    const response = await fetch(config.buildUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ quoteId, taker: state.account, approval: "exact", confirmPriceImpact: el.confirm.checked }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(apiError(body, response.status));
    return body;
  }
  function showTx(hash, text) {
    el.tx.hidden = false;
    el.txHash.textContent = hash;
    el.txState.textContent = text;
  }
  async function swap(event) {
    event.preventDefault();
    if (!state.quote || state.busy) return;
    state.busy = true;
    el.swap.disabled = true;
    clearTimeout(state.timer);
    try {
      if (!(await checkChain())) return;
      const before = await buyBalance();
      setStatus("Building and simulating the swap…");
      let built = await build(state.quote.quoteId);
      if (built.approval) {
        setStatus(`Approve ${payOption().symbol} in your wallet (exact amount)…`);
        const approveHash = await sendTx(built.approval);
        showTx(approveHash, "approval pending…");
        const approval = await waitReceipt(approveHash);
        if (parseInt(approval.status, 16) !== 1) throw new Error("The approval transaction reverted; nothing was swapped.");
        showTx(approveHash, "approval confirmed");
        setStatus("Approved. Re-quoting and simulating the swap…");
        const fresh = await fetchQuote();
        if (!fresh) throw new Error("Could not re-quote after the approval.");
        built = await build(fresh.quoteId);
      }
      setStatus("Confirm the swap in your wallet…");
      const hash = await sendTx(built.transaction);
      showTx(hash, "pending…");
      setStatus("Swap sent; waiting for it to be mined…");
      const receipt = await waitReceipt(hash);
      if (parseInt(receipt.status, 16) !== 1) {
        showTx(hash, "reverted");
        setStatus("The swap reverted on-chain: the price moved past your slippage limit or the deadline passed. Only the network fee was spent; get a new quote and retry.", true);
        return;
      }
      showTx(hash, `confirmed in block ${parseInt(receipt.blockNumber, 16)}`);
      const after = await buyBalance();
      el.balance.hidden = false;
      el.balance.textContent = `Received ${formatUnits(after - before, config.buy.decimals)} ${config.buy.symbol}; balance now ${formatUnits(after, config.buy.decimals)} ${config.buy.symbol}.`;
      setStatus("Swap confirmed.");
    } catch (err) {
      setStatus(err && err.code !== undefined ? walletError(err) : (err.message || String(err)), true);
    } finally {
      state.busy = false;
      refreshQuote();
    }
  }

  el.connect.addEventListener("click", connect);
  el.switchBtn.addEventListener("click", switchChain);
  form.addEventListener("submit", swap);
  el.confirm.addEventListener("change", () => state.quote && renderQuote(state.quote));
  let debounce = null;
  for (const input of [el.amount, el.slippage, el.pay]) {
    input.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(refreshQuote, 300); });
  }
  if (wallet() && wallet().on) {
    wallet().on("chainChanged", () => checkChain().then(refreshQuote));
    wallet().on("accountsChanged", (accounts) => { state.account = accounts[0] || null; refreshQuote(); });
  }
})();
