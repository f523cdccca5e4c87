// The portal's only script (an ES module, no build step): the live dashboard and uploads with
// progress. The session's token never reaches this script: the dashboard's socket signs in with
// a short-lived ticket (GET /portal/socket-ticket), valid only in connection_init.

const csrf = () => document.querySelector('input[name="csrf"]')?.value ?? "";

// ------------------------------------------------------------------ live dashboard

const SUBSCRIPTIONS = {
  status: `subscription { certificationStatusChanged { previousStatus status factory { name } } }`,
  connection: `subscription { connectionChanged { status factory { name } } }`,
};

function live(root) {
  const status = document.getElementById("live-status");
  let refreshing = null;
  let again = false;

  async function refresh() {
    // One reload at a time; an event during one asks for one more after it.
    if (refreshing) { again = true; return; }
    refreshing = (async () => {
      do {
        again = false;
        const response = await fetch(root.dataset.live, { credentials: "same-origin" });
        if (response.redirected) { location.assign(response.url); return; }  // signed out
        if (response.ok) root.innerHTML = await response.text();
      } while (again);
    })();
    try { await refreshing; } finally { refreshing = null; root.dataset.refreshed = String(Date.now()); }
  }

  function say(text) { if (status) status.textContent = text; }

  async function connect(delay) {
    const answer = await fetch("/portal/socket-ticket", { credentials: "same-origin" });
    if (!answer.ok) { root.dataset.liveState = "signed-out"; say("Live updates stopped: sign in again."); return; }
    const { ticket } = await answer.json();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init",
                                               payload: { Authorization: `Bearer ${ticket}` } }));
    ws.onmessage = (frame) => {
      const message = JSON.parse(frame.data);
      if (message.type === "connection_ack") {
        for (const [id, query] of Object.entries(SUBSCRIPTIONS)) {
          ws.send(JSON.stringify({ id, type: "subscribe", payload: { query } }));
        }
        ws.send(JSON.stringify({ type: "ping" }));  // answered once the subscriptions are taken
      } else if (message.type === "pong") {
        root.dataset.liveState = "connected";
        say("Live: this page updates when a factory's status or sharing changes.");
        if (delay > 1000) refresh();  // reconnected: catch up on what was missed
        delay = 1000;
      } else if (message.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        const data = message.payload?.data ?? {};
        const event = data.certificationStatusChanged;
        if (event) say(`${event.factory.name}: certification ${event.status.replaceAll("_", " ")} (was ${event.previousStatus.replaceAll("_", " ")}).`);
        else if (data.connectionChanged) say(`${data.connectionChanged.factory?.name ?? "A factory"}: sharing changed.`);
        refresh();
      }
    };
    ws.onclose = (closed) => {
      root.dataset.liveState = "closed";
      if (closed.code === 4401 || closed.code === 4403) { say("Live updates stopped: sign in again."); return; }
      say("Live updates interrupted; reconnecting…");
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    };
  }
  connect(1000);
}

// ------------------------------------------------------------------ uploads with progress

function uploadOne(file, bar) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/portal/uploads");
    request.setRequestHeader("X-CSRF-Token", csrf());
    request.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status === 201) resolve(body);
      else reject(new Error(body.message || `Upload refused (${body.code || request.status}).`));
    };
    request.onerror = () => reject(new Error("The upload was interrupted; try again."));
    const body = new FormData();
    body.append("file", file);
    request.send(body);
  });
}

function uploads() {
  for (const input of document.querySelectorAll("input[type=file][data-upload]")) {
    const target = document.getElementById(input.dataset.upload);
    const bar = document.querySelector(`[data-progress-for="${input.dataset.upload}"]`);
    const status = document.querySelector(`[data-status-for="${input.dataset.upload}"]`);
    const submit = input.form?.querySelector('button[type="submit"]');
    input.addEventListener("change", async () => {
      const ids = [];
      bar.hidden = false;
      if (submit) submit.disabled = true;
      try {
        for (const file of input.files) {
          bar.value = 0;
          status.textContent = `Uploading ${file.name}…`;
          const done = await uploadOne(file, bar);
          ids.push(done.id);
          status.textContent = `Uploaded ${ids.length} of ${input.files.length}: ${done.filename}`;
        }
        target.value = ids.join(",");
      } catch (error) {
        status.textContent = error.message;
        target.value = "";
      } finally {
        if (submit) submit.disabled = false;
      }
    });
  }
}

const root = document.querySelector("[data-live]");
if (root) live(root);
uploads();
