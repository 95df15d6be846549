// Sign-In With Ethereum (EIP-4361) through the browser's EIP-1193 wallet (window.ethereum).
// The server writes the message (domain, URI, chain, nonce, expiry); the wallet signs it with
// personal_sign (EIP-191); the server verifies and signs the user in or links the wallet.

function csrfToken() {
  var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || "The server refused the request (" + response.status + ").");
  return data;
}

function toHex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function signIn(box) {
  const status = box.querySelector("[data-siwe-status]");
  const say = (text) => { status.textContent = text; };
  const provider = window.ethereum;
  if (!provider || typeof provider.request !== "function") {
    say("No browser wallet found. Install an EIP-1193 wallet (e.g. a browser extension) and reload.");
    return;
  }
  try {
    say("Asking your wallet for an account…");
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("The wallet shared no account.");
    const chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
    const challenge = await postJSON(box.dataset.challengeUrl, { address: accounts[0], chain_id: chainId });
    say("Sign the message in your wallet…");
    const signature = await provider.request({ method: "personal_sign", params: [toHex(challenge.message), accounts[0]] });
    const result = await postJSON(box.dataset.verifyUrl, { message: challenge.message, signature, next: box.dataset.next || "" });
    say("Signed in as " + result.address + ".");
    window.location.assign(result.next);
  } catch (error) {
    if (error && error.code === 4001) say("You declined the request in your wallet.");
    else say((error && error.message) || "Sign-in failed.");
  }
}

document.querySelectorAll("[data-siwe]").forEach((box) => {
  const button = box.querySelector("[data-siwe-start]");
  button.addEventListener("click", () => signIn(box));
});
