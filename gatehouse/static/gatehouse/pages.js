// Small helpers for Gatehouse's pages, no build step: buttons that copy or print, which need
// script and so are hidden until it runs. Page-specific waiting (push, pairing) is elsewhere.
"use strict";

function say(text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 50);
}

for (const button of document.querySelectorAll("[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    const text = source.dataset.copyText || source.innerText.trim();
    try {
      await navigator.clipboard.writeText(text);
      say(button.dataset.copied || "Copied.");
    } catch {
      say("Copying did not work here: select the text and copy it.");
    }
  });
}

for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
