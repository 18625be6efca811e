// Oven GMS console: plain JavaScript over the /gms/api JSON API. Every piece of data is
// put on the page with textContent (never as HTML), and every state-changing call sends
// the session's CSRF token.
"use strict";

(() => {
  const base = document.body.dataset.base || "/gms";
  const roles = ["viewer", "editor", "publisher", "operator"];
  const state = { csrf: "", role: "", user: "", published: 0, savedDoc: "", lastDraft: null };

  const $ = (id) => document.getElementById(id);

  // el builds an element: el("td", {class: "x"}, "text", childNode, ...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  class APIError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || ("HTTP " + status));
      this.status = status;
      this.code = body && body.error && body.error.code;
      this.problems = (body && body.problems) || [];
      this.retryAfter = body && body.error && body.error.retry_after_s;
    }
  }

  // api calls the JSON API. body may be an object (sent as JSON) or a string (sent as is).
  async function api(method, path, body) {
    const opts = { method, headers: {}, credentials: "same-origin" };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = state.csrf;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const res = await fetch(base + "/api" + path, opts);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const err = new APIError(res.status, data);
      if (res.status === 401 && path !== "/login") showLogin("Your session has ended; sign in again.");
      throw err;
    }
    return { data, text, headers: res.headers };
  }

  let flashTimer = 0;
  function flash(msg, bad) {
    const f = $("flash");
    f.textContent = msg;
    f.classList.toggle("bad", !!bad);
    f.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { f.hidden = true; }, bad ? 12000 : 6000);
  }
  const fail = (err) => flash(err.message || String(err), true);

  const can = (role) => roles.indexOf(state.role) >= roles.indexOf(role);
  const when = (iso) => iso ? new Date(iso).toLocaleString() : "–";
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  // gift names a gift: "1 life", "500 coins".
  const gift = (kind, amount) => kind === "life" ? plural(amount, "life", "lives") : plural(amount, "coin", "coins");
  // amountOf reads a number input; empty is null, which the API refuses by name.
  const amountOf = (input) => input.value.trim() === "" ? null : Number(input.value);

  // ---- session ----

  function showLogin(msg) {
    state.csrf = state.role = state.user = "";
    $("app").hidden = true;
    $("who").hidden = true;
    $("login-view").hidden = false;
    $("login-error").hidden = !msg;
    $("login-error").textContent = msg || "";
    $("login-username").focus();
  }

  function signedIn(s) {
    state.csrf = s.csrf_token;
    state.role = s.role;
    state.user = s.username;
    $("who-name").textContent = s.username;
    $("who-role").textContent = s.role;
    $("who").hidden = false;
    $("login-view").hidden = true;
    $("app").hidden = false;
    // A button the role may not use is disabled; anything else (a form) is hidden.
    for (const b of document.querySelectorAll("[data-role]")) {
      const allowed = can(b.dataset.role);
      if (b instanceof HTMLButtonElement) {
        b.disabled = !allowed;
        b.title = allowed ? "" : "needs the " + b.dataset.role + " role";
      } else {
        b.hidden = !allowed;
      }
    }
    showTab("gamedata");
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-submit").disabled = true;
    try {
      const { data } = await api("POST", "/login", { username: $("login-username").value, password: $("login-password").value });
      $("login-password").value = "";
      signedIn(data);
    } catch (err) {
      const wait = err.retryAfter ? " Try again in " + err.retryAfter + " s." : "";
      $("login-error").textContent = err.message + "." + wait;
      $("login-error").hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/logout"); } catch (_) { /* signed out either way */ }
    showLogin("Signed out.");
  });

  // ---- tabs ----

  const loaders = { gamedata: loadDraft, versions: loadVersions, players: () => $("player-id").focus(), broadcasts: loadBroadcasts, calendar: loadCalendar, audit: loadAudit };
  function showTab(name) {
    for (const t of document.querySelectorAll("[data-tab]")) {
      const on = t.dataset.tab === name;
      t.setAttribute("aria-selected", on ? "true" : "false");
      $("view-" + t.dataset.tab).hidden = !on;
    }
    loaders[name]();
  }
  for (const t of document.querySelectorAll("[data-tab]")) t.addEventListener("click", () => showTab(t.dataset.tab));

  // ---- game data ----

  const pretty = (text) => JSON.stringify(JSON.parse(text), null, 2);
  // canonical renders a document's text comparably (key order as written, no spacing).
  function canonical(text) { try { return JSON.stringify(JSON.parse(text)); } catch (_) { return text; } }

  async function loadDraft() {
    try {
      const { text, headers } = await api("GET", "/gamedata/draft");
      state.published = Number(headers.get("X-Published-Version"));
      state.savedDoc = canonical(text);
      $("published-version").textContent = state.published;
      $("draft-by").textContent = headers.get("X-Draft-Updated-By") || "–";
      $("draft-at").textContent = when(headers.get("X-Draft-Updated-At"));
      $("draft").value = pretty(text);
      markDirty();
      showProblems(null);
      $("publish-panel").hidden = true;
      $("diff").replaceChildren(el("p", { class: "muted" }, "Press “Diff with published”."));
    } catch (err) { fail(err); }
  }

  function markDirty() {
    $("draft-dirty").hidden = canonical($("draft").value) === state.savedDoc;
  }

  // showProblems lists problems (null: not checked; []: valid).
  function showProblems(problems) {
    const list = $("problems");
    list.replaceChildren();
    $("draft").classList.toggle("invalid", !!(problems && problems.length));
    const vs = $("valid-state");
    if (problems === null) { vs.className = "muted"; vs.textContent = "Not checked yet."; return; }
    if (problems.length === 0) { vs.className = "ok"; vs.textContent = "Valid."; return; }
    vs.className = "error";
    vs.textContent = problems.length === 1 ? "1 problem:" : problems.length + " problems:";
    for (const p of problems) {
      list.append(el("li", { "data-path": p.path }, el("code", {}, p.path || "document"), " ", p.message));
    }
  }

  async function validateDraft() {
    try {
      const { data } = await api("POST", "/gamedata/validate", $("draft").value);
      showProblems(data.problems);
      return data.valid;
    } catch (err) { fail(err); return false; }
  }

  let typingTimer = 0;
  $("draft").addEventListener("input", () => {
    markDirty();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(validateDraft, 500);
  });
  $("validate").addEventListener("click", validateDraft);

  $("save").addEventListener("click", async () => {
    try {
      const { text, headers } = await api("PUT", "/gamedata/draft", $("draft").value);
      state.savedDoc = canonical(text);
      $("draft").value = pretty(text);
      $("draft-by").textContent = headers.get("X-Draft-Updated-By");
      $("draft-at").textContent = when(headers.get("X-Draft-Updated-At"));
      markDirty();
      showProblems([]);
      flash("Draft saved.");
      await showDiff();
    } catch (err) {
      if (err.problems.length) { showProblems(err.problems); flash("The draft was not saved: it has problems.", true); }
      else fail(err);
    }
  });

  // flatten maps a document to path → JSON value; items with an id are keyed by it so
  // that inserting one does not show every later item as changed.
  function flatten(v, path, out) {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        const key = x && typeof x === "object" && !Array.isArray(x) && typeof x.id === "string" ? "id=" + x.id : String(i);
        flatten(x, path + "[" + key + "]", out);
      });
    } else if (v && typeof v === "object") {
      for (const k of Object.keys(v)) flatten(v[k], path ? path + "." + k : k, out);
    } else {
      out.set(path, JSON.stringify(v));
    }
    return out;
  }

  async function showDiff() {
    let draft;
    try { draft = JSON.parse($("draft").value); } catch (err) { flash("The draft is not valid JSON: " + err.message, true); return null; }
    let published;
    try { published = (await api("GET", "/gamedata/versions/" + state.published)).data; } catch (err) { fail(err); return null; }
    const a = flatten(published, "", new Map()), b = flatten(draft, "", new Map());
    a.delete("version"); b.delete("version");
    const rows = [];
    for (const [k, v] of a) {
      if (!b.has(k)) rows.push(el("tr", { class: "removed" }, el("td", {}, el("code", {}, k)), el("td", { class: "old" }, el("code", {}, v)), el("td", {}, "—")));
      else if (b.get(k) !== v) rows.push(el("tr", { class: "changed" }, el("td", {}, el("code", {}, k)), el("td", { class: "old" }, el("code", {}, v)), el("td", { class: "new" }, el("code", {}, b.get(k)))));
    }
    for (const [k, v] of b) {
      if (!a.has(k)) rows.push(el("tr", { class: "added" }, el("td", {}, el("code", {}, k)), el("td", {}, "—"), el("td", { class: "new" }, el("code", {}, v))));
    }
    const box = $("diff");
    if (rows.length === 0) {
      box.replaceChildren(el("p", { class: "muted" }, "No changes against version " + state.published + "."));
    } else {
      box.replaceChildren(el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "Path"), el("th", {}, "Version " + state.published), el("th", {}, "Draft"))),
        el("tbody", {}, ...rows)));
    }
    return rows.length;
  }
  $("diff-show").addEventListener("click", showDiff);

  $("publish").addEventListener("click", async () => {
    if (canonical($("draft").value) !== state.savedDoc) { flash("Save the draft before publishing it.", true); return; }
    const changes = await showDiff();
    if (changes === null) return;
    if (changes === 0) { flash("The draft is what version " + state.published + " publishes already.", true); return; }
    $("publish-next").textContent = String(state.published + 1);
    $("publish-panel").hidden = false;
    $("publish-confirm").focus();
  });
  $("publish-cancel").addEventListener("click", () => { $("publish-panel").hidden = true; });
  $("publish-confirm").addEventListener("click", async () => {
    $("publish-confirm").disabled = true;
    try {
      const { data } = await api("POST", "/gamedata/publish");
      await loadDraft();
      flash("Published version " + data.version + ".");
    } catch (err) { fail(err); } finally { $("publish-confirm").disabled = false; }
  });

  // ---- versions ----

  async function loadVersions() {
    try {
      const { data } = await api("GET", "/gamedata/versions");
      const body = $("versions");
      body.replaceChildren();
      for (const v of data.versions) {
        const actions = el("td", {},
          el("button", { type: "button", onclick: () => viewVersion(v.version) }, "View"), " ",
          v.published ? el("span", { class: "badge good" }, "published")
            : el("button", { type: "button", disabled: !can("publisher"), onclick: (ev) => confirmRollback(ev.target, v.version) }, "Roll back to this"));
        body.append(el("tr", { class: v.published ? "current" : "", "data-version": v.version },
          el("td", {}, "v" + v.version), el("td", {}, v.created_by), el("td", {}, when(v.created_at)),
          el("td", {}, v.source_version ? "rollback to v" + v.source_version : ""), actions));
      }
    } catch (err) { fail(err); }
  }
  $("versions-refresh").addEventListener("click", loadVersions);

  async function viewVersion(n) {
    try {
      const { text } = await api("GET", "/gamedata/versions/" + n);
      $("version-view-number").textContent = n;
      $("version-view-doc").textContent = pretty(text);
      $("version-view").hidden = false;
    } catch (err) { fail(err); }
  }

  function confirmRollback(button, n) {
    const cell = button.parentElement;
    cell.replaceChildren(
      el("span", {}, "Publish v" + n + "'s document again? "),
      el("button", { type: "button", class: "danger", onclick: () => rollback(n) }, "Confirm rollback"), " ",
      el("button", { type: "button", onclick: loadVersions }, "Cancel"));
  }

  async function rollback(n) {
    try {
      const { data } = await api("POST", "/gamedata/rollback", { version: n });
      flash("Version " + n + "'s document is published again as version " + data.version + "; the draft was reset to it.");
      await loadVersions();
    } catch (err) { fail(err); }
  }

  // ---- players ----

  $("player-form").addEventListener("submit", (ev) => { ev.preventDefault(); lookup($("player-id").value.trim()); });

  async function lookup(id) {
    if (!id) return;
    try {
      const { data } = await api("GET", "/players/" + encodeURIComponent(id));
      renderPlayer(data);
    } catch (err) {
      $("player").hidden = true;
      fail(err);
    }
  }

  function renderPlayer(p) {
    const field = (label, value) => el("div", {}, el("span", {}, label), String(value));
    const lives = p.lives.count + " / " + p.lives.max + (p.lives.next_life_at ? " (next " + when(p.lives.next_life_at) + ")" : "");
    const reason = el("input", { id: "ban-reason", placeholder: "reason (kept in the audit log)", maxlength: "200" });
    const banBox = el("div", { class: "ban" },
      p.banned ? el("span", { class: "badge bad", id: "player-status" }, "banned") : el("span", { class: "badge good", id: "player-status" }, "active"),
      p.banned ? null : reason,
      el("button", {
        type: "button", id: p.banned ? "unban" : "ban", class: p.banned ? "" : "danger", disabled: !can("operator"),
        title: can("operator") ? "" : "needs the operator role",
        onclick: async () => {
          try {
            const { data } = await api("POST", "/players/" + encodeURIComponent(p.player_id) + (p.banned ? "/unban" : "/ban"),
              p.banned ? undefined : { reason: reason.value });
            renderPlayer(data);
            flash(data.banned ? "Player " + data.player_id + " is banned." : "Player " + data.player_id + " is unbanned.");
          } catch (err) { fail(err); }
        },
      }, p.banned ? "Unban" : "Ban"));
    const plays = p.recent_plays.length === 0 ? el("p", { class: "muted" }, "No settled plays.") :
      el("table", { class: "grid" },
        el("thead", {}, el("tr", {}, ...["Started", "Score", "Coins", "Distance", "Duration", "Cookie", "Pet", "Boosts", "Outcome"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...p.recent_plays.map((r) => el("tr", {},
          el("td", {}, when(r.started_at)), el("td", {}, r.score), el("td", {}, r.coins), el("td", {}, r.distance),
          el("td", {}, (r.duration_ms / 1000).toFixed(1) + " s"), el("td", {}, r.cookie_id), el("td", {}, r.pet_id || "–"),
          el("td", {}, r.boosts.join(", ") || "–"), el("td", {}, r.outcome)))));
    const mailbox = p.mailbox.length === 0 ? el("p", { class: "muted", id: "mailbox-empty" }, "Empty.") :
      el("table", { class: "grid", id: "mailbox" },
        el("thead", {}, el("tr", {}, ...["Sent", "Gift", "From", "Message", "Expires"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...p.mailbox.map((m) => el("tr", { "data-id": m.id },
          el("td", {}, when(m.sent_at)), el("td", {}, gift(m.kind, m.amount)),
          el("td", {}, m.from_player_id ? "#" + m.from_player_id : "GMS"), el("td", {}, m.message || "–"),
          el("td", {}, when(m.expires_at))))));
    const pushes = el("div", { class: "pushes" }, el("p", { class: "muted" }, "Loading…"));
    const box = $("player");
    box.replaceChildren(
      el("h2", {}, p.name + " ", el("span", { class: "muted" }, "#" + p.player_id)),
      banBox,
      el("div", { class: "profile" },
        field("Level", p.level), field("Exp", p.exp), field("Coins", p.coins), field("Gift points", p.gift_points),
        field("Lives", lives), field("Best score", p.best_score), field("This week's best", p.weekly_best),
        field("Cookies", p.owned.cookies.join(", ") || "–"), field("Pets", p.owned.pets.join(", ") || "–")),
      el("h3", {}, "Mailbox"), mailbox,
      giftForm(p),
      el("h3", {}, "Recent plays"), plays,
      el("h3", {}, "Push deliveries"), pushes);
    box.hidden = false;
    loadPushes(p.player_id, pushes);
  }

  // giftForm sends one player a gift (operators); the mailbox above shows it at once.
  function giftForm(p) {
    const operator = can("operator");
    const kind = el("select", { id: "gift-kind", disabled: !operator }, el("option", { value: "coins" }, "coins"), el("option", { value: "life" }, "lives"));
    const amount = el("input", { id: "gift-amount", type: "number", min: "1", max: "1000000", step: "1", value: "100", required: true, disabled: !operator });
    const message = el("input", { id: "gift-message", maxlength: "200", placeholder: "shown to the player with the gift", disabled: !operator });
    const send = el("button", { type: "submit", id: "gift-send", class: "primary", disabled: !operator, title: operator ? "" : "needs the operator role" }, "Send gift");
    return el("form", {
      id: "gift-form", class: "card gift-form",
      onsubmit: async (ev) => {
        ev.preventDefault();
        send.disabled = true;
        try {
          const body = { kind: kind.value, amount: amountOf(amount), message: message.value };
          await api("POST", "/players/" + encodeURIComponent(p.player_id) + "/gifts", body);
          flash("Sent " + gift(body.kind, body.amount) + " to player " + p.player_id + ".");
          await lookup(p.player_id);
        } catch (err) { fail(err); send.disabled = false; }
      },
    }, el("h3", {}, "Send gift"),
    el("label", {}, "Kind ", kind), el("label", {}, "Amount ", amount), el("label", { class: "wide" }, "Message ", message), send);
  }

  // ---- broadcasts ----

  async function loadBroadcasts() {
    try {
      const { data } = await api("GET", "/gifts/broadcast");
      const now = Date.now();
      $("broadcasts").replaceChildren(...data.broadcasts.map((b) => {
        const running = new Date(b.ends_at).getTime() > now;
        return el("tr", { "data-id": b.id, class: running ? "current" : "" },
          el("td", {}, when(b.starts_at)), el("td", {}, when(b.ends_at)), el("td", {}, gift(b.kind, b.amount)),
          el("td", {}, b.message || "–"), el("td", {}, b.created_by), el("td", { class: "claims" }, b.claims),
          el("td", {}, running ? el("span", { class: "badge good" }, "running") : el("span", { class: "badge" }, "ended")));
      }));
      if (data.broadcasts.length === 0) {
        $("broadcasts").append(el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No broadcasts yet.")));
      }
    } catch (err) { fail(err); }
  }
  $("broadcasts-refresh").addEventListener("click", loadBroadcasts);

  function broadcastBody() {
    return {
      kind: $("broadcast-kind").value, amount: amountOf($("broadcast-amount")), message: $("broadcast-message").value,
      duration_s: Math.round(Number($("broadcast-duration").value) * Number($("broadcast-unit").value)),
    };
  }

  // A broadcast reaches every player, so it takes a second, deliberate click.
  $("broadcast-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const b = broadcastBody();
    const unit = $("broadcast-unit");
    $("broadcast-summary").textContent = "Send " + gift(b.kind, b.amount) + " to every player, for " +
      $("broadcast-duration").value + " " + unit.options[unit.selectedIndex].text + "?";
    $("broadcast-confirm").hidden = false;
    $("broadcast-confirm-send").focus();
  });
  $("broadcast-cancel").addEventListener("click", () => { $("broadcast-confirm").hidden = true; });
  $("broadcast-confirm-send").addEventListener("click", async () => {
    $("broadcast-confirm-send").disabled = true;
    try {
      const b = broadcastBody();
      const { data } = await api("POST", "/gifts/broadcast", b);
      $("broadcast-confirm").hidden = true;
      $("broadcast-message").value = "";
      flash("Broadcast " + data.id + " sent: " + gift(data.kind, data.amount) + " until " + when(data.ends_at) + ".");
      await loadBroadcasts();
    } catch (err) { fail(err); } finally { $("broadcast-confirm-send").disabled = false; }
  });

  // ---- calendar ----

  const kinds = { infinite_lives: "Infinite lives", lives_max: "Raised max lives", lives_regen: "Faster regeneration", push: "Push message" };
  // valueOf describes the value of the kinds that have one.
  const valueOf = {
    lives_max: { label: "New max lives", min: 1, max: 100 },
    lives_regen: { label: "Seconds per life", min: 1, max: 86400 },
  };
  // The form's fields, by the API's names (which problems' paths use).
  const eventFields = ["kind", "title", "starts_at", "ends_at", "value", "message", "audience", "expected_load"];
  const statusBadge = { running: "badge good", scheduled: "badge warn", cancelled: "badge bad", ended: "badge" };
  // editing: the event the form edits (null: a new one); baseline: the form as loaded
  // from it; pending: the body waiting for the confirm click.
  const calendar = { editing: null, baseline: null, pending: null };

  // The calendar works in UTC: the datetime-local inputs hold UTC wall time.
  const utc = (iso) => iso ? iso.slice(0, 16).replace("T", " ") + " UTC" : "–";
  const fromLocalInput = (v) => v ? v + (v.length === 16 ? ":00Z" : "Z") : null;
  const toLocalInput = (iso) => iso ? iso.slice(0, 16) : "";
  const quoted = (title) => "“" + title + "”";

  function eventValue(e) {
    if (e.kind === "lives_max") return "max " + plural(e.value, "life", "lives");
    if (e.kind === "lives_regen") return "1 life every " + e.value + " s";
    return "–";
  }

  function eventPush(e) {
    if (e.kind !== "push") return "–";
    return el("span", {}, el("span", { class: "badge" }, e.audience === "lives_full" ? "lives full" : "all players"), " ", e.message);
  }

  async function loadCalendar() {
    // An untouched form gets fresh default times.
    if (!calendar.editing && $("event-title").value === "") defaultTimes();
    await loadEvents();
  }

  // The newest campaigns that sent count their deliveries with every load of the list;
  // an older one on a click, so that a long calendar is not a burst of calls.
  const autoCounts = 10;

  // loadEvents shows the calendar, then the capacity its events ask for.
  async function loadEvents() {
    let titles = new Map();
    try {
      const { data } = await api("GET", "/events");
      let budget = autoCounts;
      $("events").replaceChildren(...data.events.map((e) => eventRow(e, pushSent(e) && budget-- > 0)));
      if (data.events.length === 0) {
        $("events").append(el("tr", {}, el("td", { colspan: "11", class: "muted" }, "No events yet.")));
      }
      markEditedRow();
      titles = new Map(data.events.map((e) => [e.id, e.title]));
    } catch (err) { fail(err); }
    await loadCapacity(titles);
  }
  $("events-refresh").addEventListener("click", loadEvents);

  function eventRow(e, countDeliveries) {
    const actions = el("td", { class: "row-actions" });
    if ((e.status === "scheduled" || e.status === "running") && can("publisher")) {
      actions.append(
        el("button", { type: "button", class: "edit", onclick: () => editEvent(e) }, "Edit"), " ",
        el("button", { type: "button", class: "cancel", onclick: () => confirmCancel(actions, e) }, "Cancel…"));
    }
    const load = e.expected_load > 1 ? el("span", { class: "badge warn", title: "asks for pre-warming" }, e.expected_load + "×") : e.expected_load + "×";
    return el("tr", { "data-id": e.id },
      el("td", { class: "title" }, e.title), el("td", { class: "kind" }, kinds[e.kind] || e.kind),
      el("td", {}, utc(e.starts_at)), el("td", {}, utc(e.ends_at)), el("td", {}, eventValue(e)), el("td", {}, eventPush(e)),
      eventDeliveries(e, countDeliveries), el("td", {}, load),
      el("td", {}, el("span", { class: "status " + (statusBadge[e.status] || "badge"), title: e.cancelled_at ? "cancelled " + utc(e.cancelled_at) : null }, e.status)),
      el("td", {}, e.created_by, e.updated_by && e.updated_by !== e.created_by ? " (edited by " + e.updated_by + ")" : ""),
      actions);
  }

  function markEditedRow() {
    for (const r of $("events").querySelectorAll("tr[data-id]")) {
      r.classList.toggle("current", !!calendar.editing && r.dataset.id === calendar.editing.id);
    }
  }

  // Cancelling takes a second, deliberate click, like a rollback.
  function confirmCancel(cell, e) {
    cell.replaceChildren(
      el("span", {}, (e.status === "running" ? "End " : "Call off ") + quoted(e.title) + " now? "),
      el("button", { type: "button", class: "danger cancel-confirm", onclick: () => cancelEvent(e) }, "Cancel event"), " ",
      el("button", { type: "button", onclick: loadEvents }, "Keep"));
  }

  async function cancelEvent(e) {
    try {
      await api("POST", "/events/" + encodeURIComponent(e.id) + "/cancel");
      if (calendar.editing && calendar.editing.id === e.id) resetEventForm();
      flash("Event " + quoted(e.title) + " cancelled.");
    } catch (err) { fail(err); }
    await loadEvents();
  }

  // showKindFields shows the fields the kind uses, the value labelled by its meaning.
  function showKindFields() {
    const kind = $("event-kind").value;
    const v = valueOf[kind];
    $("event-value-field").hidden = !v;
    if (v) {
      $("event-value-label").textContent = v.label + " (" + v.min + "-" + v.max + ")";
      $("event-value").min = v.min;
      $("event-value").max = v.max;
    }
    const push = kind === "push";
    $("event-message-field").hidden = !push;
    $("event-audience-field").hidden = !push;
    $("event-ends-label").textContent = push ? "Ends (UTC, optional)" : "Ends (UTC)";
  }
  $("event-kind").addEventListener("change", showKindFields);

  // defaultTimes proposes the next full hour, for a day.
  function defaultTimes() {
    const start = Math.ceil(Date.now() / 3600000) * 3600000;
    $("event-starts").value = new Date(start).toISOString().slice(0, 16);
    $("event-ends").value = new Date(start + 86400000).toISOString().slice(0, 16);
  }

  // eventBody reads the form as the API takes it. A kind without a value leaves it out;
  // a kind other than push sends an empty message (dropping one if the kind changed).
  function eventBody() {
    const kind = $("event-kind").value;
    const b = {
      kind, title: $("event-title").value, starts_at: fromLocalInput($("event-starts").value),
      ends_at: fromLocalInput($("event-ends").value), message: "", expected_load: amountOf($("event-load")),
    };
    if (valueOf[kind]) b.value = amountOf($("event-value"));
    if (kind === "push") {
      b.message = $("event-message").value;
      b.audience = $("event-audience").value;
    }
    return b;
  }

  // checkEvent finds what the browser can tell without asking: missing fields, an end
  // not after the start. The server checks the rest.
  function checkEvent(b) {
    const ps = [];
    const need = (path, ok) => { if (!ok) ps.push({ path, message: "is required" }); };
    need("title", b.title.trim() !== "");
    need("starts_at", b.starts_at);
    if (b.kind !== "push") need("ends_at", b.ends_at);
    if ("value" in b) {
      need("value", b.value !== null);
      if (b.value !== null && !Number.isInteger(b.value)) ps.push({ path: "value", message: "must be a whole number" });
    }
    if (b.kind === "push") need("message", b.message !== "");
    need("expected_load", b.expected_load !== null);
    if (b.starts_at && b.ends_at && Date.parse(b.ends_at) <= Date.parse(b.starts_at)) {
      ps.push({ path: "ends_at", message: "must be after starts_at" });
    }
    if (calendar.baseline && calendar.baseline.ends_at && !b.ends_at) {
      ps.push({ path: "ends_at", message: "cannot be removed; cancel the event instead" });
    }
    return ps;
  }

  // showEventProblems puts each problem next to its field; one without a visible field
  // is listed under the form.
  function showEventProblems(problems) {
    const byPath = new Map();
    for (const p of problems) byPath.set(p.path, (byPath.has(p.path) ? byPath.get(p.path) + "; " : "") + p.message);
    for (const f of eventFields) {
      const box = $("event-problem-" + f);
      const msg = box.parentElement.hidden ? undefined : byPath.get(f);
      if (msg !== undefined) byPath.delete(f);
      box.textContent = msg || "";
      box.hidden = !msg;
      box.previousElementSibling.classList.toggle("invalid", !!msg);
    }
    $("event-problems").replaceChildren(...[...byPath].map(([path, msg]) =>
      el("li", { "data-path": path }, el("code", {}, path || "event"), " ", msg)));
  }

  // Changing a field clears its problem and any pending confirmation.
  for (const f of eventFields) {
    const box = $("event-problem-" + f);
    box.previousElementSibling.addEventListener("input", () => {
      box.hidden = true;
      box.previousElementSibling.classList.remove("invalid");
      $("event-confirm").hidden = true;
    });
  }

  // changedFields is what a PATCH sends: the fields that differ from the form as loaded.
  function changedFields(b, base) {
    const out = {};
    for (const f of eventFields) {
      if (f in b && JSON.stringify(b[f]) !== JSON.stringify(base[f])) out[f] = b[f];
    }
    return out;
  }

  function eventSummary(b, change) {
    if (calendar.editing) return "Change " + Object.keys(change).join(", ") + " of " + quoted(calendar.editing.title) + "?";
    const who = b.kind !== "push" ? "for every player" : b.audience === "lives_full" ? "to players with full lives" : "to every player";
    const value = valueOf[b.kind] ? ", " + valueOf[b.kind].label.toLowerCase() + " " + b.value : "";
    return "Schedule " + kinds[b.kind].toLowerCase() + " " + quoted(b.title) + " " + who + ", " + utc(b.starts_at) +
      (b.ends_at ? " → " + utc(b.ends_at) : "") + value + ", expected load " + b.expected_load + "×?";
  }

  $("event-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    $("event-confirm").hidden = true;
    const b = eventBody();
    const problems = checkEvent(b);
    showEventProblems(problems);
    if (problems.length) return;
    let change = b;
    if (calendar.editing) {
      change = changedFields(b, calendar.baseline);
      if (Object.keys(change).length === 0) { flash("Nothing changed.", true); return; }
    } else if (b.ends_at === null) {
      delete b.ends_at;
    }
    calendar.pending = change;
    $("event-summary").textContent = eventSummary(b, change);
    $("event-confirm-send").textContent = calendar.editing ? "Save now" : "Schedule now";
    $("event-confirm").hidden = false;
    $("event-confirm-send").focus();
  });
  $("event-confirm-cancel").addEventListener("click", () => { $("event-confirm").hidden = true; });
  $("event-confirm-send").addEventListener("click", async () => {
    const send = $("event-confirm-send");
    send.disabled = true;
    try {
      if (calendar.editing) {
        const { data } = await api("PATCH", "/events/" + encodeURIComponent(calendar.editing.id), calendar.pending);
        flash("Event " + quoted(data.title) + " updated.");
      } else {
        await api("POST", "/events", calendar.pending);
        flash("Event " + quoted(calendar.pending.title) + " scheduled.");
      }
      resetEventForm();
      await loadEvents();
    } catch (err) {
      $("event-confirm").hidden = true;
      if (err.problems.length) { showEventProblems(err.problems); flash("The event was not saved: it has problems.", true); }
      else fail(err);
    } finally { send.disabled = false; }
  });

  // editEvent loads an event into the form; saving sends only the fields changed.
  function editEvent(e) {
    calendar.editing = e;
    $("event-kind").value = e.kind;
    $("event-title").value = e.title;
    $("event-starts").value = toLocalInput(e.starts_at);
    $("event-ends").value = toLocalInput(e.ends_at);
    $("event-value").value = valueOf[e.kind] ? String(e.value) : "";
    $("event-message").value = e.message || "";
    $("event-audience").value = e.audience || "all";
    $("event-load").value = String(e.expected_load);
    showKindFields();
    calendar.baseline = eventBody();
    $("event-form-title").textContent = "Edit " + quoted(e.title);
    $("event-submit").textContent = "Save changes…";
    $("event-reset").textContent = "Stop editing";
    showEventProblems([]);
    $("event-confirm").hidden = true;
    markEditedRow();
    $("event-form").scrollIntoView({ block: "nearest" });
    $("event-title").focus();
  }

  function resetEventForm() {
    calendar.editing = calendar.baseline = calendar.pending = null;
    $("event-form").reset();
    showKindFields();
    defaultTimes();
    $("event-form-title").textContent = "Schedule an event";
    $("event-submit").textContent = "Schedule…";
    $("event-reset").textContent = "Clear";
    showEventProblems([]);
    $("event-confirm").hidden = true;
    markEditedRow();
  }
  $("event-reset").addEventListener("click", resetEventForm);
  showKindFields();

  // ---- capacity ----

  const copies = (n) => plural(n, "copy", "copies");

  async function loadCapacity(titles) {
    try {
      const { data } = await api("GET", "/capacity");
      renderCapacity(data, titles);
    } catch (err) { fail(err); }
  }

  // renderCapacity shows the floor in force and the raises planned, each named by its
  // event's title when the calendar lists it (by id otherwise).
  function renderCapacity(c, titles) {
    const p = c.presentation;
    $("capacity-floor").textContent = copies(p.floor);
    $("capacity-current").textContent = p.current === null ? "not reported" : copies(p.current);
    $("capacity-until").textContent = utc(p.until);
    $("capacity-reason").textContent = p.reason || "–";
    // A floor held until some time is one raised above the base.
    $("capacity").classList.toggle("raised", !!p.until);
    $("capacity-upcoming").replaceChildren(...c.upcoming.map((u) => el("tr", { "data-event": u.event_id },
      el("td", {}, utc(u.at)), el("td", { class: "floor" }, copies(u.floor)),
      el("td", { class: "event" }, titles.has(u.event_id) ? quoted(titles.get(u.event_id)) : el("code", {}, u.event_id)))));
    if (c.upcoming.length === 0) {
      $("capacity-upcoming").append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No raise planned.")));
    }
  }

  // ---- push deliveries ----

  const deliveryStatuses = ["queued", "sent", "failed", "unregistered"];
  const deliveryBadge = { queued: "badge warn", sent: "badge good", failed: "badge bad", unregistered: "badge" };
  const deliveryKinds = { life_received: "life received", lives_full: "lives full", campaign: "campaign" };

  // pushSent reports whether a push event's send time came (one cancelled before it
  // never sends).
  function pushSent(e) {
    if (e.kind !== "push" || e.status === "scheduled") return false;
    return !(e.cancelled_at && Date.parse(e.cancelled_at) <= Date.parse(e.starts_at));
  }

  // eventDeliveries is a push event's Deliveries cell: its counts by status, loaded at
  // once when auto is set and (again) by its button.
  function eventDeliveries(e, auto) {
    const cell = el("td", { class: "deliveries" });
    if (e.kind !== "push") { cell.append("–"); return cell; }
    if (!pushSent(e)) { cell.append(el("span", { class: "muted" }, e.status === "scheduled" ? "not sent yet" : "never sent")); return cell; }
    const counts = el("span", { class: "counts" });
    const button = el("button", { type: "button", class: "small deliveries-load", title: "count the deliveries" }, "Deliveries");
    const load = async () => {
      button.disabled = true;
      try {
        const { data } = await api("GET", "/events/" + encodeURIComponent(e.id) + "/pushes");
        counts.replaceChildren(...deliveryStatuses.map((s) =>
          el("span", { class: "count " + (data[s] > 0 ? deliveryBadge[s] : "badge"), "data-status": s }, data[s] + " " + s)));
        button.textContent = "↻";
        button.title = "count again";
      } catch (err) { fail(err); } finally { button.disabled = false; }
    };
    button.addEventListener("click", load);
    cell.append(counts, button);
    if (auto) load();
    return cell;
  }

  // loadPushes fills box with the player's push deliveries, newest first.
  async function loadPushes(playerID, box) {
    try {
      const { data } = await api("GET", "/players/" + encodeURIComponent(playerID) + "/pushes");
      if (data.deliveries.length === 0) {
        box.replaceChildren(el("p", { class: "muted", id: "pushes-empty" }, "None kept."));
        return;
      }
      box.replaceChildren(el("table", { class: "grid", id: "pushes" },
        el("thead", {}, el("tr", {}, ...["Kind", "Platform", "Status", "Created", "Sent", "Error"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...data.deliveries.map((d) => el("tr", { "data-id": d.id },
          el("td", { title: d.event_id ? "event " + d.event_id : null }, deliveryKinds[d.kind] || d.kind),
          el("td", {}, d.platform),
          el("td", {}, el("span", { class: "status " + (deliveryBadge[d.status] || "badge") }, d.status)),
          el("td", {}, when(d.created_at)), el("td", {}, when(d.sent_at)), el("td", { class: "push-error" }, d.error || "–"))))));
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, "The deliveries could not be loaded."));
      fail(err);
    }
  }

  // ---- audit ----

  async function loadAudit() {
    try {
      const { data } = await api("GET", "/audit?limit=" + $("audit-limit").value);
      // Long states (a whole draft) fold away behind their size.
      const json = (v) => {
        if (v === null) return "";
        const text = JSON.stringify(v);
        if (text.length <= 160) return el("code", {}, text);
        return el("details", {}, el("summary", {}, text.slice(0, 60) + "… (" + text.length + " characters)"), el("code", {}, text));
      };
      $("audit").replaceChildren(...data.entries.map((e) => el("tr", {},
        el("td", {}, when(e.at)), el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.target),
        el("td", {}, json(e.before)), el("td", {}, json(e.after)))));
    } catch (err) { fail(err); }
  }
  $("audit-refresh").addEventListener("click", loadAudit);
  $("audit-limit").addEventListener("change", loadAudit);

  // ---- start ----

  api("GET", "/session").then(({ data }) => signedIn(data)).catch(() => showLogin(""));
})();
