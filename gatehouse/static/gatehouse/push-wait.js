// The sign-in page waiting for a phone's approval: a countdown, and a long-poll (a GET, which
// changes nothing) that returns as soon as the phone answers. The answer is then taken by the
// page's own form (a POST, as "I've approved it" does), which goes where the sign-in leads; a
// new request is sent only when the person asks for one.
"use strict";

const box = document.getElementById("push-wait");
if (box) {
  const flow = box.dataset.flow;
  const status = document.getElementById("push-status");
  const countdown = document.getElementById("push-countdown");
  const ends = Date.now() + Number(box.dataset.seconds) * 1000;
  const reload = () => location.replace(location.href);
  const collect = () => box.querySelector("form").submit();

  const tick = () => {
    const left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
    countdown.textContent = `Expires in ${left} s`;
    if (left === 0) {
      setTimeout(collect, 1500); // the server then says it expired
      return;
    }
    setTimeout(tick, 1000);
  };
  tick();

  (async () => {
    for (let i = 0; i < 40; i++) {
      let state;
      try {
        const answer = await fetch(`/api/v1/signin/${flow}?wait=25`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (answer.status === 404) return reload();
        state = await answer.json();
      } catch {
        status.textContent = "Connection lost; retrying…";
        await new Promise((resolve) => setTimeout(resolve, 2000));
        continue;
      }
      if (state.status === "authenticated") return location.assign(state.return_to);
      if (state.status !== "mfa_required" || !state.push) return reload();
      if (state.push.state !== "pending") return collect();
    }
  })();
}
