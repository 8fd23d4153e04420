// The pairing step waits for the phone: as soon as it has paired, on to "Done" (whose page
// checks again that it has). Without script, "I've paired my phone" asks the server instead.
"use strict";

const status = document.getElementById("pairing-status");
if (status) {
  (async () => {
    for (let i = 0; i < 300; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      let state;
      try {
        const answer = await fetch(`/api/v1/me/authenticator/pairing/${status.dataset.id}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        state = await answer.json();
      } catch {
        continue;
      }
      if (state.status === "paired") {
        status.textContent = state.method ? `Paired: ${state.method.name}` : "Paired.";
        location.assign(location.pathname + (status.dataset.return ? `?return_to=${encodeURIComponent(status.dataset.return)}` : ""));
        return;
      }
      if (state.status === "expired") {
        location.reload();
        return;
      }
    }
  })();
}
