/* dockerlink's operator page: the host, its sites and their last day, from the API.

   Plain script: no dependency, no build step, no request to any other host. The
   sparklines are inline SVG paths drawn below (about 40 lines): a vendored chart library
   would be tens of kilobytes to review and keep up to date for three small lines a row.

   Requests: every refresh (each `stats_interval` seconds, never two at once: every
   refresh and fill runs on one promise chain) is one /v1/health, one /v1/container and
   one /v1/container/stats per site row on screen, asking only for the points after the
   last one it has (`since`). Rows scrolled into view are filled on the same chain. */
"use strict";
(function () {
  const API = "../v1/"; // relative: the page works behind a reverse proxy's path prefix
  const KEY = "dockerlink.token";
  const DAY = 86400;
  const BINS = 96; // one sparkline point per 15 minutes
  const BIN = DAY / BINS;
  const PARALLEL = 6; // stats calls in flight (a browser's connections per host)
  const W = 120;
  const H = 24;
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (sel) => document.querySelector(sel);
  const state = {
    token: sessionStorage.getItem(KEY),
    interval: 10,
    sites: new Map(), // full id -> site
    others: 0,
    sort: "cpu",
    open: null, // id of the site whose events and logs are shown
    running: false,
    timer: null,
    chain: Promise.resolve(),
    fillQueued: false,
  };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(path) {
    let resp;
    try {
      resp = await fetch(API + path, {
        headers: { Authorization: "Bearer " + state.token },
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch (err) {
      throw new ApiError(0, "dockerlink did not answer (" + err.message + ")");
    }
    const type = resp.headers.get("Content-Type") || "";
    if (!resp.ok && !(path === "health" && type.includes("json"))) {
      const line = (await resp.text()).split("\n")[0].slice(0, 200);
      throw new ApiError(resp.status, line || resp.status + " " + resp.statusText);
    }
    return type.includes("json") ? resp.json() : resp.text();
  }

  // -- one chain: refreshes and fills never overlap -------------------------------------

  function enqueue(job) {
    state.chain = state.chain.then(job).catch(failed);
    return state.chain;
  }

  function failed(err) {
    if (err instanceof ApiError && err.status === 401) {
      askToken("The token was refused (" + err.message + "). Enter it again.");
    } else {
      say((err && err.message) || String(err), "error");
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.running && !document.hidden) {
      state.timer = setTimeout(() => enqueue(refresh), state.interval * 1000);
    }
  }

  async function refresh() {
    if (!state.running || document.hidden) return;
    try {
      const [health, listing] = await Promise.all([call("health"), call("container")]);
      showHost(health);
      applyListing(listing);
      render();
      await loadStats(visibleSites());
      render();
      say("");
    } finally {
      schedule();
    }
  }

  async function fill() {
    state.fillQueued = false;
    if (!state.running) return;
    const todo = visibleSites().filter((s) => !s.loaded);
    if (todo.length) {
      await loadStats(todo);
      render();
    }
  }

  function queueFill() {
    if (!state.fillQueued && state.running) {
      state.fillQueued = true;
      enqueue(fill);
    }
  }

  // -- token ------------------------------------------------------------------------------

  function say(text, kind) {
    const m = $("#message");
    m.textContent = text;
    m.className = kind === "info" ? "info" : "";
    m.hidden = !text;
  }

  function askToken(reason) {
    state.running = false;
    clearTimeout(state.timer);
    state.token = null;
    sessionStorage.removeItem(KEY);
    for (const s of state.sites.values()) removeSite(s);
    $("#sites").hidden = true;
    $("#host").hidden = true;
    $("#forget").hidden = true;
    $("#login").hidden = false;
    say(reason || "", "error");
    $("#token").focus();
  }

  async function begin() {
    $("#login").hidden = true;
    say("Loading…", "info");
    try {
      const env = await call("env");
      state.interval = Number(env.stats_interval) || 10;
      state.env = env;
    } catch (err) {
      if (err.status === 401) return askToken("The token was refused (" + err.message + "). Enter it again.");
      if (err.status !== 403) {
        // dockerlink down or unreachable: say so and try again, the page stays.
        say(err.message + " — trying again in 10 s", "error");
        setTimeout(begin, 10000);
        return;
      }
      state.env = null; // a scoped token may not read /v1/env: the default interval is used
    }
    $("#forget").hidden = false;
    $("#sites").hidden = false;
    state.running = true;
    enqueue(refresh);
  }

  // -- the table ------------------------------------------------------------------------

  function applyListing(listing) {
    const seen = new Set();
    let others = 0;
    for (const [key, entry] of Object.entries((listing && listing.success) || {})) {
      if (entry.dockerlink === "not_dockerlink") {
        others += 1;
        continue;
      }
      const id = entry.id || key;
      seen.add(id);
      let site = state.sites.get(id);
      if (!site) {
        site = { id, points: [], last: 0, loaded: false, latest: null, error: "", row: makeRow(id) };
        state.sites.set(id, site);
      }
      site.entry = entry;
    }
    for (const site of state.sites.values()) if (!seen.has(site.id)) removeSite(site);
    state.others = others;
  }

  function removeSite(site) {
    site.row.remove();
    if (site.detail) site.detail.remove();
    state.sites.delete(site.id);
  }

  function makeRow(id) {
    const tr = document.createElement("tr");
    tr.className = "site";
    tr.dataset.id = id;
    tr.title = "Show this site's last events and log";
    for (let i = 0; i < 9; i++) tr.appendChild(document.createElement("td"));
    for (const [i, kind] of [[6, "cpu"], [7, "mem"], [8, "net"]]) {
      const box = document.createElement("div");
      box.className = "spark";
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", kind);
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("role", "img");
      svg.appendChild(document.createElementNS(SVG, "title"));
      svg.appendChild(document.createElementNS(SVG, "path"));
      box.appendChild(svg);
      box.appendChild(document.createElement("span"));
      tr.cells[i].appendChild(box);
      tr.cells[i].className = "num";
    }
    tr.addEventListener("click", () => toggleDetail(id));
    return tr;
  }

  function sortKey(site) {
    const v = site.latest;
    if (state.sort === "cpu") return v ? v.cpu.usage_percent : -1;
    if (state.sort === "mem") return v ? v.memory.used : -1;
    return 0;
  }

  function ordered() {
    const sites = Array.from(state.sites.values());
    const name = (s) => (s.entry.name || "").replace(/^\//, "");
    sites.sort((a, b) => sortKey(b) - sortKey(a) || name(a).localeCompare(name(b)));
    return sites;
  }

  function render() {
    const body = $("#sites tbody");
    const end = windowEnd();
    for (const site of ordered()) {
      fillRow(site, end);
      body.appendChild(site.row); // moves it: the order follows the sort
      if (site.detail) body.appendChild(site.detail);
    }
    for (const b of document.querySelectorAll("th button")) b.classList.toggle("active", b.dataset.sort === state.sort);
    const n = state.sites.size;
    $("#footnote").textContent =
      n + " site" + (n === 1 ? "" : "s") + (state.others ? "; " + state.others + (state.others === 1 ? " other container on the host is" : " other containers on the host are") + " not dockerlink's" : "") +
      ". Sparklines: the last 24 h, one point per 15 minutes (CPU in % of one core, memory used, network in + out). " +
      "Refreshed every " + state.interval + " s; a row off screen keeps the figures it had when last on screen.";
  }

  function visibleSites() {
    const bottom = window.innerHeight;
    const out = [];
    for (const site of state.sites.values()) {
      const r = site.row.getBoundingClientRect();
      if (site.row.isConnected && r.bottom > 0 && r.top < bottom) out.push(site);
    }
    return out;
  }

  function fillRow(site, end) {
    const e = site.entry;
    const v = site.latest;
    const c = site.row.cells;
    c[0].textContent = (e.name || site.id.slice(0, 12)).replace(/^\//, "");
    c[1].textContent = e.state || "?";
    c[1].className = "state-" + (e.state || "unknown");
    c[2].textContent = e.state === "running" && e.started_at ? duration(Date.now() / 1000 - e.started_at) : "—";
    c[3].textContent = limits(e, v);
    c[4].textContent = e.disk && e.disk.used != null ? gib(e.disk.used) : "—";
    c[4].title = e.disk && e.disk.at ? "measured " + new Date(e.disk.at * 1000).toLocaleString() : "not measured";
    exits(c[5], e);
    const bins = binned(site.points, end);
    draw(c[6], bins.cpu, v ? pct(v.cpu.usage_percent) : site.error || "…", "CPU (% of one core)", pct);
    draw(c[7], bins.mem, v ? gib(v.memory.used) : site.error || "…", "memory used", gib);
    draw(c[8], bins.net, site.netRate != null ? kibs(site.netRate) : site.error || "…", "network in + out", kibs);
  }

  function limits(e, v) {
    const parts = [];
    const mem = e.memory != null ? e.memory : v && v.memory.limit;
    const cpu = e.cpulimit != null ? e.cpulimit : v && v.cpu.limit / 100;
    if (cpu) parts.push(round(cpu) + " CPU");
    if (mem) parts.push(gib(mem));
    return parts.length ? parts.join(", ") : "—";
  }

  function exits(cell, e) {
    cell.textContent = "";
    const parts = [];
    const last = e.last_exit;
    if (last && last.code != null) parts.push(["exit " + last.code + (last.at ? ", " + duration(Date.now() / 1000 - last.at) + " ago" : ""), ""]);
    else if (e.state !== "running" && e.exit_code != null) parts.push(["exit " + e.exit_code, ""]);
    if (e.oom_killed) parts.push(["OOM-killed", "oom"]);
    if (e.oom_kills) parts.push([e.oom_kills + " OOM kill" + (e.oom_kills === 1 ? "" : "s"), "oom"]);
    if (e.restart_count) parts.push([e.restart_count + " restart" + (e.restart_count === 1 ? "" : "s"), ""]);
    if (!parts.length) parts.push(["—", "muted"]);
    parts.forEach(([text, cls], i) => {
      if (i) cell.appendChild(document.createTextNode(" · "));
      const span = document.createElement("span");
      span.textContent = text;
      if (cls) span.className = cls;
      cell.appendChild(span);
    });
  }

  // -- stats and sparklines ---------------------------------------------------------------

  async function loadStats(sites) {
    const queue = sites.slice();
    const worker = async () => {
      while (queue.length) await loadOne(queue.shift());
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  }

  async function loadOne(site) {
    const path = "container/stats?scale=day&since=" + site.last + "&id=" + encodeURIComponent(site.id);
    let data;
    try {
      data = await call(path);
    } catch (err) {
      if (err.status === 401) throw err;
      site.error = err.status === 404 ? "no history yet" : "stats: " + err.message;
      return;
    }
    site.error = "";
    site.loaded = true;
    const points = Object.entries(data)
      .map(([k, p]) => [Number(k), p])
      .filter(([t]) => t > site.last)
      .sort((a, b) => a[0] - b[0]);
    for (const [t, p] of points) {
      // Network as KiB/s: a point's deltas are since the point before it (a 2-minute point: its window's sum).
      const prev = site.points.length ? site.points[site.points.length - 1][0] : null;
      const rate = prev != null && t > prev ? (p.net.delta_up + p.net.delta_down) / (t - prev) : null;
      site.points.push([t, p.cpu.usage_percent, p.memory.used, rate]);
      if (rate != null) site.netRate = rate;
      site.latest = p;
      site.last = t;
    }
    const cutoff = windowEnd() - DAY;
    let drop = 0;
    while (drop < site.points.length && site.points[drop][0] < cutoff) drop++;
    if (drop) site.points.splice(0, drop);
  }

  function windowEnd() {
    // The server's clock decides where "now" is when the browser's runs behind it.
    let end = Date.now() / 1000;
    for (const s of state.sites.values()) if (s.last > end) end = s.last;
    return end;
  }

  function binned(points, end) {
    const start = end - DAY;
    const sum = { cpu: new Array(BINS).fill(0), mem: new Array(BINS).fill(0), net: new Array(BINS).fill(0) };
    const count = new Array(BINS).fill(0);
    const rates = new Array(BINS).fill(0);
    for (const [t, cpu, mem, net] of points) {
      const i = Math.min(BINS - 1, Math.floor((t - start) / BIN));
      if (i < 0) continue;
      sum.cpu[i] += cpu;
      sum.mem[i] += mem;
      count[i] += 1;
      if (net != null) {
        sum.net[i] += net;
        rates[i] += 1;
      }
    }
    const mean = (a, n) => a.map((x, i) => (n[i] ? x / n[i] : null));
    return { cpu: mean(sum.cpu, count), mem: mean(sum.mem, count), net: mean(sum.net, rates) };
  }

  function draw(cell, values, label, what, fmt) {
    const svg = cell.querySelector("svg");
    let max = 0;
    for (const x of values) if (x != null && x > max) max = x;
    const top = max > 0 ? max : 1;
    let d = "";
    let pen = false;
    values.forEach((x, i) => {
      if (x == null) {
        pen = false;
        return;
      }
      const px = ((i + 0.5) * W) / BINS;
      const py = H - 1 - (Math.min(x / top, 1) * (H - 2));
      d += (pen ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1) + (pen ? "" : "h0.6");
      pen = true;
    });
    svg.lastChild.setAttribute("d", d);
    svg.firstChild.textContent = d ? what + ", last 24 h: peak " + fmt(max) : what + ": no points yet";
    cell.querySelector("span").textContent = label;
  }

  // -- a site's events and log ------------------------------------------------------------

  function toggleDetail(id) {
    const site = state.sites.get(id);
    if (state.open && state.sites.get(state.open) && state.sites.get(state.open).detail) {
      const was = state.sites.get(state.open);
      was.detail.remove();
      was.detail = null;
      if (state.open === id) {
        state.open = null;
        return;
      }
    }
    state.open = id;
    const tr = document.createElement("tr");
    tr.className = "detail";
    const td = document.createElement("td");
    td.colSpan = 9;
    const events = section(td, "Last events");
    const logs = section(td, "Log (last 100 lines)");
    tr.appendChild(td);
    site.detail = tr;
    site.row.after(tr);
    loadEvents(id, events);
    loadLog(id, logs);
  }

  function section(td, title) {
    const h = document.createElement("h3");
    h.textContent = title;
    const div = document.createElement("div");
    div.className = "muted";
    div.textContent = "loading…";
    td.appendChild(h);
    td.appendChild(div);
    return div;
  }

  function unavailable(box, err) {
    box.className = "muted";
    box.textContent =
      err.status === 404 || err.status === 405 ? "not available on this dockerlink" : "could not be read: " + err.message;
  }

  async function loadEvents(id, box) {
    // The journal reads forward from a cursor: page through it (bounded) and keep the last 20.
    let since = 0;
    let events = [];
    try {
      for (let page = 0; page < 10; page++) {
        const answer = await call("events?limit=100&since=" + since + "&id=" + encodeURIComponent(id));
        events = events.concat(answer.events || []).slice(-20);
        if (!answer.events || answer.events.length < 100 || answer.next === since) break;
        since = answer.next;
      }
    } catch (err) {
      if (err.status === 401) return failed(err);
      return unavailable(box, err);
    }
    box.textContent = "";
    box.className = "";
    if (!events.length) {
      box.className = "muted";
      box.textContent = "none";
      return;
    }
    const ol = document.createElement("ol");
    for (const ev of events.reverse()) {
      const li = document.createElement("li");
      const detail = ev.detail && Object.keys(ev.detail).length ? " " + JSON.stringify(ev.detail) : "";
      li.textContent = new Date(ev.time * 1000).toLocaleString() + " — " + ev.type + detail;
      if (ev.type === "oom" || (ev.detail && ev.detail.oom_killed)) li.className = "oom";
      ol.appendChild(li);
    }
    box.appendChild(ol);
  }

  async function loadLog(id, box) {
    let text;
    try {
      text = await call("container/logs?tail=100&id=" + encodeURIComponent(id));
    } catch (err) {
      if (err.status === 401) return failed(err);
      return unavailable(box, err);
    }
    const pre = document.createElement("pre");
    pre.textContent = typeof text === "string" ? text || "(empty)" : JSON.stringify(text);
    box.replaceWith(pre);
  }

  // -- the host ---------------------------------------------------------------------------

  function showHost(health) {
    const dl = $("#host");
    dl.textContent = "";
    const age = health.last_sample_age;
    const items = [
      ["dockerlink", health.dockerlink],
      ["engine", health.engine || "unreachable"],
      ["status", health.status],
      ["last sample", age == null ? "none yet" : duration(age) + " ago"],
      ["interval", state.interval + " s"],
    ];
    if (state.env) items.push(["base image", state.env.base_image], ["port area", state.env.port_area_size]);
    for (const [k, val] of items) {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = String(val);
      if ((k === "status" && val !== "ok") || (k === "last sample" && age != null && age > 3 * state.interval)) dd.className = "oom";
      div.append(dt, dd);
      dl.appendChild(div);
    }
    dl.hidden = false;
  }

  // -- formatting -------------------------------------------------------------------------

  function round(x) {
    return x === 0 ? "0" : x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2);
  }
  function pct(x) {
    return round(x) + " %";
  }
  function gib(x) {
    return x >= 1 ? round(x) + " GiB" : round(x * 1024) + " MiB";
  }
  function kibs(x) {
    return x >= 1024 ? round(x / 1024) + " MiB/s" : round(x) + " KiB/s";
  }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  // -- wiring -----------------------------------------------------------------------------

  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    $("#token").value = "";
    if (!token) return;
    state.token = token;
    sessionStorage.setItem(KEY, token);
    begin();
  });
  $("#forget").addEventListener("click", () => askToken(""));
  for (const b of document.querySelectorAll("th button")) {
    b.addEventListener("click", () => {
      state.sort = b.dataset.sort;
      render();
      queueFill();
    });
  }
  let scrolled = null;
  const onScroll = () => {
    clearTimeout(scrolled);
    scrolled = setTimeout(queueFill, 250);
  };
  window.addEventListener("scroll", onScroll, { passive: true });
  window.addEventListener("resize", onScroll);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.running) enqueue(refresh);
  });

  if (state.token) begin();
  else askToken("");
})();
