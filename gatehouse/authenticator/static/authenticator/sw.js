// The Gatehouse Authenticator's service worker: it keeps the app's files for opening without
// a network, shows "Approve sign-in?" when a push arrives (the number is never in it), and
// opens or focuses the app when the notification is tapped. It never caches the API.

const CACHE = "gatehouse-authenticator-v1";
const APP = "/authenticator/";
const FILES = [
  APP,
  "/authenticator/app.js",
  "/authenticator/app.css",
  "/authenticator/manifest.webmanifest",
  "/authenticator/icon.svg",
  "/authenticator/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

// The network first, so a new version shows at once; the cache when offline. The pairing link's
// page is the app's page.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith(APP)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok && FILES.includes(url.pathname)) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request.mode === "navigate" ? APP : url.pathname).then((hit) => hit || Response.error())),
  );
});

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = {};
  }
  const where = [message.ip, message.location].filter(Boolean).join(", ");
  const body = message.app ? `${message.app}${where ? ` from ${where}` : ""}. Open to approve or deny.` : "Open to approve or deny.";
  event.waitUntil(
    Promise.all([
      self.registration.showNotification("Approve sign-in?", {
        body,
        tag: message.id || "gatehouse-challenge",
        renotify: true,
        requireInteraction: true,
        icon: "/authenticator/icon-192.png",
        data: { id: message.id || null },
      }),
      self.clients
        .matchAll({ type: "window", includeUncontrolled: true })
        .then((windows) => windows.forEach((client) => client.postMessage({ type: "challenge", id: message.id || null }))),
    ]),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((client) => new URL(client.url).pathname.startsWith(APP));
      if (open) {
        open.postMessage({ type: "challenge", id: event.notification.data && event.notification.data.id });
        return open.focus();
      }
      return self.clients.openWindow(APP);
    }),
  );
});

// A new subscription is sent to the server by the app the next time it opens (it compares the
// subscription with what each account last sent).
