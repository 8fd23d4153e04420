// The Gatehouse Authenticator app: pairs this phone with Gatehouse accounts (one ECDSA P-256
// key per account, generated non-extractable by WebCrypto and kept in IndexedDB; only the public
// key leaves the phone), lists the sign-ins waiting for approval and answers them with signed
// requests. The wire protocol is docs/authenticator.md's, as gatehouse/authenticator/protocol.py
// checks it. Plain ES module, no build step; no text is ever put into the page as HTML.

const API = "/api/v1/authenticator";
const APP = "/authenticator/";
const PAIR_PATH = "/authenticator/pair";
const REQUEST_LABEL = "GATEHOUSE-DEVICE-REQUEST/1";
const POLL_INTERVAL = 3000;
// Answered requests stay on screen this long, so the user sees what became of them.
const KEEP_ANSWERED = 20000;
const encoder = new TextEncoder();
const $ = (id) => document.getElementById(id);

class Failure extends Error {
  constructor(code, message, status = null) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// --- accounts, kept in IndexedDB (a CryptoKey is stored as it is, never exported) -----------

const database = new Promise((resolve, reject) => {
  const opening = indexedDB.open("gatehouse-authenticator", 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore("accounts", { keyPath: "device_id" });
  opening.onsuccess = () => resolve(opening.result);
  opening.onerror = () => reject(opening.error);
});

async function inStore(mode, action) {
  const db = await database;
  return new Promise((resolve, reject) => {
    const transaction = db.transaction("accounts", mode);
    const request = action(transaction.objectStore("accounts"));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = transaction.onabort = () => reject(transaction.error);
  });
}

const accounts = {
  all: () => inStore("readonly", (store) => store.getAll()),
  put: (account) => inStore("readwrite", (store) => store.put(account)),
  remove: (deviceId) => inStore("readwrite", (store) => store.delete(deviceId)),
};

// --- the protocol ---------------------------------------------------------------------------

function b64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// ECDSA P-256 with SHA-256; WebCrypto gives raw r||s (IEEE P1363), as the server expects.
async function sign(key, text) {
  return b64url(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, encoder.encode(text)));
}

async function send(method, path, headers, body) {
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch {
    throw new Failure("unreachable", "Cannot reach the sign-in server. Check the phone's connection.");
  }
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  if (answer && answer.error) throw new Failure(answer.error, answer.message || answer.error, response.status);
  if (response.status === 401) {
    throw new Failure(
      "unauthorized",
      "The server no longer recognises this phone: it may have been removed in Security info, or the phone's clock is wrong.",
      401,
    );
  }
  throw new Failure("server_error", `The server answered HTTP ${response.status}.`, response.status);
}

const JSON_HEADERS = { Accept: "application/json", "Content-Type": "application/json" };

// A request signed with the account's key: label, method, path, device id, Unix time and the
// SHA-256 of the body, one per line (docs/authenticator.md, "Signed requests").
async function signedCall(account, method, path, body) {
  const raw = body === undefined ? "" : JSON.stringify(body);
  const ts = Math.floor(Date.now() / 1000);
  const digest = b64url(await crypto.subtle.digest("SHA-256", encoder.encode(raw)));
  const message = [REQUEST_LABEL, method, path, account.device_id, String(ts), digest].join("\n");
  const signature = await sign(account.key, message);
  const headers = raw ? { ...JSON_HEADERS } : { Accept: "application/json" };
  headers.Authorization = `Gatehouse-Device id=${account.device_id}, ts=${ts}, sig=${signature}`;
  return send(method, path, headers, raw || undefined);
}

// The answer ({status, message}); its own signature is over canonical JSON, keys sorted, no spaces — which is what
// JSON.stringify writes for an object built in this key order.
async function answer(account, challenge, decision, number) {
  const time = Math.floor(Date.now() / 1000);
  const signature = await sign(account.key, JSON.stringify({ challenge, decision, number, time }));
  const path = `${API}/challenges/${encodeURIComponent(challenge)}/answer`;
  return signedCall(account, "POST", path, { decision, number, time, signature });
}

// --- notifications --------------------------------------------------------------------------

const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

function within(promise, milliseconds) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), milliseconds)),
  ]);
}

function sameBytes(a, b) {
  const x = new Uint8Array(a || []);
  return x.length === b.length && x.every((value, i) => value === b[i]);
}

// This browser's Web Push subscription for the server's VAPID key (made if need be), or null
// when notifications are not allowed or the push service cannot be reached.
async function currentSubscription() {
  if (!pushSupported() || Notification.permission !== "granted") return null;
  try {
    const registration = await within(navigator.serviceWorker.ready, 5000);
    const { vapid_public_key: vapid } = await send("GET", `${API}/vapid-public-key`, { Accept: "application/json" });
    const applicationServerKey = fromB64url(vapid);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options.applicationServerKey, applicationServerKey)) {
      await subscription.unsubscribe(); // made for an earlier VAPID key
      subscription = null;
    }
    subscription ??= await within(
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }),
      10000,
    );
    return subscription.toJSON();
  } catch (error) {
    console.warn("no Web Push subscription:", error);
    return null;
  }
}

// Tell each account's server about this browser's subscription when it has changed (a new
// subscription, notifications switched off), so that pushes reach the phone.
async function syncSubscriptions(list) {
  if (!pushSupported() || !list.some((a) => a.notify)) return;
  const subscription = await currentSubscription();
  const endpoint = subscription ? subscription.endpoint : null;
  for (const account of list) {
    const wanted = account.notify ? endpoint : null;
    if (account.endpoint === wanted) continue;
    try {
      const path = `${API}/device/push-subscription`;
      await signedCall(account, "PUT", path, { push_subscription: account.notify ? subscription : null });
      account.endpoint = wanted;
      await accounts.put(account);
    } catch (error) {
      console.warn("subscription not updated:", error);
    }
  }
}

// --- pairing --------------------------------------------------------------------------------

function pairingToken(url) {
  if (url.pathname !== PAIR_PATH) return null;
  const token = url.hash.replace(/^#/, "");
  return /^[A-Za-z0-9_-]{16,128}$/.test(token) ? token : null;
}

async function pair(token, name, notify) {
  // Asked first, while the tap still counts as the user's gesture (Safari insists).
  const permission = notify && pushSupported() ? await Notification.requestPermission() : "denied";
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", keys.publicKey);
  const subscription = permission === "granted" ? await currentSubscription() : null;
  const body = { token, public_key: { kty, crv, x, y }, name, push_subscription: subscription };
  const device = await send("POST", `${API}/pair`, JSON_HEADERS, JSON.stringify(body));
  const account = {
    device_id: device.device_id,
    user: device.user,
    display_name: device.display_name,
    name: device.name,
    key: keys.privateKey,
    notify: permission === "granted",
    endpoint: subscription ? subscription.endpoint : null,
    paired_at: Date.now(),
  };
  await accounts.put(account);
  // Keys must survive storage pressure: losing them unpairs the phone.
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
  return { account, notified: device.notifications };
}

function guessName() {
  const agent = navigator.userAgent;
  if (/iPhone/.test(agent)) return "iPhone";
  if (/iPad/.test(agent)) return "iPad";
  if (/Android/.test(agent)) return "Android phone";
  return "Phone";
}

// --- the screen -----------------------------------------------------------------------------

const state = {
  token: null, // a pairing token from the link this page was opened with
  cards: new Map(), // challenge id -> {element, account, expires, answered}
  installPrompt: null,
  polling: null,
};
const isIos = /iPhone|iPad|iPod/.test(navigator.userAgent);
const standalone = matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;

function say(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${kind}`.trim();
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function when(iso) {
  const time = new Date(iso);
  const clock = time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return time.toDateString() === new Date().toDateString() ? `Today, ${clock}` : time.toLocaleString();
}

async function render() {
  const list = await accounts.all();
  const pairing = state.token !== null;
  show("pair", pairing);
  show("add", !pairing && list.length === 0);
  show("requests", !pairing && list.length > 0);
  show("accounts", list.length > 0);
  show("ios-hint", isIos && !standalone);
  renderAccounts(list);
  return list;
}

function renderAccounts(list) {
  const items = list.map((account) => {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = account.display_name;
    const detail = document.createElement("span");
    detail.className = "muted";
    detail.textContent = ` ${account.user} · this phone is "${account.name}"`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${account.display_name} from this phone`);
    remove.addEventListener("click", () => removeAccount(account));
    item.append(who, detail, " ", remove);
    if (account.problem) {
      const problem = document.createElement("p");
      problem.className = "error small";
      problem.textContent = account.problem;
      item.append(problem);
    }
    return item;
  });
  $("account-list").replaceChildren(...items);
  const off = pushSupported() && list.some((a) => !a.notify || !a.endpoint) && Notification.permission !== "denied";
  show("notify-off", off);
  const hint = $("install-hint");
  if (isIos && !standalone) {
    hint.textContent = "To install: tap Share, then Add to Home Screen.";
  }
  hint.hidden = !(isIos && !standalone);
  show("install", state.installPrompt !== null);
}

async function removeAccount(account) {
  const sure = confirm(
    `Remove ${account.display_name} from this phone? Its key is deleted and this phone can no longer approve their sign-ins. Remove the phone in Security info too.`,
  );
  if (!sure) return;
  await accounts.remove(account.device_id);
  say(`${account.display_name} was removed from this phone.`);
  await render();
  refresh();
}

// --- sign-in requests -----------------------------------------------------------------------

async function refresh() {
  if (state.token !== null) return;
  const list = await accounts.all();
  if (list.length === 0) return;
  const seen = new Map();
  await Promise.all(
    list.map(async (account) => {
      try {
        for (const request of await signedCall(account, "GET", `${API}/pending`)) {
          if (!seen.has(request.id)) seen.set(request.id, { request, account });
        }
        account.problem = null;
      } catch (failure) {
        account.problem = failure.message;
      }
    }),
  );
  renderAccounts(list);
  const now = Date.now();
  for (const [id, card] of state.cards) {
    const gone = !seen.has(id) && !card.answered;
    const old = card.answered && now - card.answered > KEEP_ANSWERED;
    if (gone || old || (!card.answered && card.expires <= now)) {
      card.element.remove();
      state.cards.delete(id);
    }
  }
  for (const [id, { request, account }] of seen) {
    if (!state.cards.has(id) && Date.parse(request.expires_at) > now) addCard(request, account);
  }
  const waiting = [...state.cards.values()].some((card) => !card.answered);
  show("no-requests", !waiting);
  $("checked").textContent = `Checked at ${new Date().toLocaleTimeString()}.`;
}

function addCard(request, account) {
  const element = $("request-template").content.firstElementChild.cloneNode(true);
  const id = `request-${request.id}`;
  const field = (name) => element.querySelector(`.${name}`);
  element.id = id;
  field("request-title").id = `${id}-title`;
  element.setAttribute("aria-labelledby", `${id}-title`);
  field("r-account").textContent = `${account.display_name} (${account.user})`;
  field("r-app").textContent = request.app;
  field("r-ip").textContent = request.ip || "unknown";
  field("r-location").textContent = request.location || "unknown location";
  field("r-time").textContent = when(request.time);
  field("r-report-warning").textContent = request.report_warning;
  field("r-report-warning").id = `${id}-warning`;
  field("r-report").setAttribute("aria-describedby", `${id}-warning`);
  const input = field("r-number");
  input.id = `${id}-number`;
  field("r-number-label").htmlFor = input.id;
  const card = { element, account, expires: Date.parse(request.expires_at), answered: 0 };
  const result = field("r-result");
  const choice = element.querySelector(".deny-choice");
  const form = element.querySelector("form.answer");

  async function decide(decision, number) {
    for (const button of element.querySelectorAll("button")) button.disabled = true;
    result.className = "r-result";
    result.textContent = "Sending…";
    try {
      const { status, message } = await answer(account, request.id, decision, number);
      card.answered = Date.now();
      // After a report the server says what it did and what to do next.
      result.textContent = message || OUTCOMES[status];
      result.classList.add(status === "approved" ? "ok" : "error");
      form.hidden = true;
      choice.hidden = true;
    } catch (failure) {
      result.textContent = failure.message;
      result.classList.add("error");
      const over = ["already_answered", "expired", "sign_in_over", "unknown_challenge"];
      if (over.includes(failure.code)) {
        card.answered = Date.now();
        form.hidden = choice.hidden = true;
      } else {
        for (const button of element.querySelectorAll("button")) button.disabled = false;
      }
    }
    refresh();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = input.value.trim();
    if (!/^[1-9][0-9]$/.test(typed)) {
      input.setAttribute("aria-invalid", "true");
      result.className = "r-result error";
      result.textContent = "Type the two-digit number the sign-in screen shows.";
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    decide("approve", Number(typed));
  });
  field("r-deny").addEventListener("click", () => {
    form.hidden = true;
    choice.hidden = false;
    field("r-report").focus();
  });
  field("r-back").addEventListener("click", () => {
    choice.hidden = true;
    form.hidden = false;
    input.focus();
  });
  field("r-report").addEventListener("click", () => decide("report", null));
  field("r-deny-only").addEventListener("click", () => decide("deny", null));

  state.cards.set(request.id, card);
  // Newest first: the sign-in the person has just started is the one they look for.
  const later = [...state.cards.values()].find((other) => other.element.isConnected && other.expires < card.expires);
  $("request-list").insertBefore(element, later ? later.element : null);
  const idle = document.activeElement === document.body || document.activeElement === $("main");
  if (idle) input.focus();
}

const OUTCOMES = {
  approved: "Approved. The sign-in goes on.",
  wrong_number: "That number was not the one on the sign-in screen, so this request was refused. The sign-in screen offers to send a new one.",
  denied: "Denied. The sign-in was refused.",
};

function poll() {
  clearTimeout(state.polling);
  if (document.visibilityState !== "visible") return;
  state.polling = setTimeout(async () => {
    await refresh().catch((error) => console.warn(error));
    poll();
  }, POLL_INTERVAL);
}

// --- start ----------------------------------------------------------------------------------

function startPairing(token) {
  state.token = token;
  const name = $("device-name");
  if (!name.value) name.value = guessName();
  show("notify-choice", pushSupported());
  render().then(() => name.focus());
}

async function submitPairing(event) {
  event.preventDefault();
  const name = $("device-name").value.trim();
  if (!name) {
    $("device-name").setAttribute("aria-invalid", "true");
    say("Give this phone a name, for example “Work phone”.", "error");
    $("device-name").focus();
    return;
  }
  const button = event.submitter || $("pair-form").querySelector("button");
  button.disabled = true;
  say("Pairing…");
  try {
    const { account, notified } = await pair(state.token, name, $("notify").checked);
    state.token = null;
    history.replaceState(null, "", APP); // the one-time token leaves the address bar
    const notice = notified ? "" : " Notifications are off: open this app when you sign in.";
    say(`Paired: this phone approves sign-ins for ${account.display_name} as “${account.name}”.${notice}`, "ok");
    await render();
    await refresh();
    poll();
  } catch (failure) {
    say(failure.message || "Pairing failed.", "error");
    if (failure.code === "invalid_link") {
      state.token = null;
      history.replaceState(null, "", APP);
      await render();
    }
  } finally {
    button.disabled = false;
  }
}

function submitLink(event) {
  event.preventDefault();
  let url;
  try {
    url = new URL($("pair-link").value.trim());
  } catch {
    say("That is not a link. Copy the whole pairing link and paste it here.", "error");
    return;
  }
  if (url.origin !== location.origin) {
    say(`That link is for another server (${url.host}): open it in the phone's browser.`, "error");
    return;
  }
  const token = pairingToken(url);
  if (token === null) {
    say("That is not a pairing link. Ask for a new one in Security info.", "error");
    return;
  }
  $("pair-link").value = "";
  say("");
  startPairing(token);
}

async function turnOnNotifications() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    say("Notifications were not allowed. You can allow them in the phone's settings.", "error");
    return;
  }
  const list = await accounts.all();
  for (const account of list) account.notify = true;
  await syncSubscriptions(list);
  const reached = (await accounts.all()).every((a) => a.endpoint);
  say(reached ? "Notifications are on." : "The push service could not be reached; try again later.", reached ? "ok" : "error");
  render();
}

async function start() {
  if (!window.isSecureContext || !crypto.subtle || !window.indexedDB) {
    say("This browser cannot keep a key safely here. Open the app over https in Chrome, Safari, Firefox or Edge.", "error");
    return;
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/authenticator/sw.js", { scope: APP }).catch((error) => console.warn(error));
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "challenge") refresh();
    });
  }
  addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    state.installPrompt = event;
    show("install", true);
  });
  $("install").addEventListener("click", async () => {
    const prompt = state.installPrompt;
    state.installPrompt = null;
    show("install", false);
    if (prompt) await prompt.prompt();
  });
  $("pair-form").addEventListener("submit", submitPairing);
  $("link-form").addEventListener("submit", submitLink);
  $("add-account").addEventListener("click", () => {
    show("add", true);
    show("requests", false);
    $("pair-link").focus();
  });
  $("notify-on").addEventListener("click", turnOnNotifications);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      refresh();
      poll();
    }
  });

  const token = pairingToken(new URL(location.href));
  if (location.pathname === PAIR_PATH && token === null) {
    say("This pairing link is incomplete. Scan the code again, or ask for a new one in Security info.", "error");
    history.replaceState(null, "", APP);
  }
  if (token !== null) {
    startPairing(token);
    return;
  }
  const list = await render();
  await refresh();
  poll();
  syncSubscriptions(list).then(render);
}

start();
