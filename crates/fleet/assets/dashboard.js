// The ferro fleet dashboard: reads the server's admin API with the operator's admin
// token and shows what it returns. Plain JavaScript, no build step, no other origin.
//
// The token is kept in sessionStorage (gone when the tab closes). `#token=…` in the
// address sets it and is then removed from the address bar.
"use strict";

const TOKEN_KEY = "ferro-fleet-token";
const REFRESH_MS = 15000;
const PALETTE = ["#1d3557", "#e76f51", "#2a9d8f", "#e9c46a", "#8d5fd3", "#f4a261",
  "#457b9d", "#b5179e", "#52b788", "#6c757d"];

let loads = 0;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function setStatus(text, state) {
  document.getElementById("status").textContent = text;
  document.body.dataset.state = state;
}

// Milliseconds since the epoch as RFC 3339 in UTC, whole seconds (as `ferro fleet`
// prints them).
function when(ms) {
  if (!ms) {
    return "-";
  }
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") {
      node.className = value;
    } else if (key.startsWith("data-")) {
      node.dataset[key.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    node.setAttribute(key, String(value));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, kind, value) {
    super(value || ("HTTP " + status));
    this.status = status;
    this.kind = kind;
  }
}

async function api(path, options) {
  const init = Object.assign({ headers: {} }, options || {});
  init.headers.Authorization = "Bearer " + token();
  const response = await fetch(path, init);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body && body.kind, body && body.value);
  }
  return body;
}

function fill(tbodyParent, rows) {
  const tbody = document.querySelector(tbodyParent + " tbody");
  tbody.replaceChildren(...rows);
}

function renderVersions(history) {
  const chart = document.getElementById("versions-chart");
  chart.replaceChildren();
  const points = history.points || [];
  const versions = history.versions || [];
  const color = (version) => PALETTE[versions.indexOf(version) % PALETTE.length];
  const last = points.length ? points[points.length - 1].nodes : {};
  fill("#versions", versions.map((version) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = color(version);
    return el("tr", { "data-version": version },
      el("td", { class: "version" }, swatch, version || "unknown"),
      el("td", { class: "count" }, last[version] || 0));
  }));
  const width = 720;
  const height = 240;
  const left = 40;
  const bottom = 24;
  const max = Math.max(1, ...points.map((p) => Object.values(p.nodes).reduce((a, b) => Math.max(a, b), 0)));
  const first = points.length ? points[0].at : 0;
  const span = points.length > 1 ? points[points.length - 1].at - first : 1;
  const x = (at) => left + (width - left - 10) * (span ? (at - first) / span : 0);
  const y = (n) => height - bottom - (height - bottom - 10) * (n / max);
  chart.append(svg("line", { x1: left, y1: y(0), x2: width - 10, y2: y(0), stroke: "#999" }));
  chart.append(svg("line", { x1: left, y1: 10, x2: left, y2: y(0), stroke: "#999" }));
  const top = svg("text", { x: 4, y: 16 });
  top.textContent = String(max);
  chart.append(top);
  const zero = svg("text", { x: 4, y: y(0) });
  zero.textContent = "0";
  chart.append(zero);
  if (points.length) {
    const start = svg("text", { x: left, y: height - 6 });
    start.textContent = when(first);
    chart.append(start);
    const end = svg("text", { x: width - 10, y: height - 6, "text-anchor": "end" });
    end.textContent = when(points[points.length - 1].at);
    chart.append(end);
  }
  for (const version of versions) {
    const coords = points.map((p) => x(p.at).toFixed(1) + "," + y(p.nodes[version] || 0).toFixed(1));
    chart.append(svg("polyline", {
      points: coords.join(" "),
      fill: "none",
      stroke: color(version),
      "stroke-width": 2,
      "data-version": version,
    }));
  }
}

function renderReleases(releases) {
  const container = document.getElementById("rollouts");
  const blocks = [];
  for (const stream of releases.streams || []) {
    blocks.push(el("h3", {}, stream.name + " (" + stream.ref + ")"));
    if (stream.error) {
      blocks.push(el("p", { class: "error", "data-stream-error": stream.name }, stream.error));
    }
    const rows = stream.releases.map((release) => {
      let state = "";
      if (release.deadend !== undefined) {
        state = "dead-end " + release.deadend;
      } else if (release.barrier !== undefined) {
        state = "barrier " + release.barrier;
      }
      let progress = el("td", { class: "progress" }, "-");
      if (release.rollout !== undefined) {
        const fill = el("span");
        fill.style.width = (release.rollout * 100).toFixed(1) + "%";
        progress = el("td", { class: "progress", "data-progress": String(release.rollout) },
          el("span", { class: "bar" }, fill), (release.rollout * 100).toFixed(1) + "%");
      }
      return el("tr", { "data-release": stream.name + "/" + release.version },
        el("td", { class: "version" }, release.version),
        el("td", { class: "state" }, state),
        progress,
        el("td", { class: "incoming" }, release.incoming));
    });
    blocks.push(el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Release"), el("th", {}, "Barrier / dead-end"),
        el("th", {}, "Rollout"), el("th", {}, "Edges in"))),
      el("tbody", {}, ...rows)));
  }
  if (!blocks.length) {
    blocks.push(el("p", {}, "This server serves no update graph."));
  }
  container.replaceChildren(...blocks);
}

async function release(group, id) {
  try {
    await api("/v1/admin/release", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ group: group, id: id }),
    });
    setStatus("Released " + id + " from " + group + ".", "ready");
  } catch (error) {
    setStatus("Release failed: " + error.message, "error");
  }
  await load();
}

function renderLocks(locks) {
  const rows = [];
  for (const group of locks.groups) {
    const held = group.holders.length + "/" + group.slots;
    if (!group.holders.length) {
      rows.push(el("tr", { "data-group": group.name },
        el("td", { class: "group" }, group.name), el("td", { class: "held" }, held),
        el("td", {}, "-"), el("td", {}), el("td", {}), el("td", {})));
    }
    for (const holder of group.holders) {
      const button = el("button", { class: "release", type: "button", "data-group": group.name, "data-id": holder.id }, "Release");
      button.addEventListener("click", () => release(group.name, holder.id));
      rows.push(el("tr", { "data-group": group.name, "data-holder": holder.id },
        el("td", { class: "group" }, group.name), el("td", { class: "held" }, held),
        el("td", { class: "id" }, holder.id),
        el("td", { class: "acquired" }, when(holder.acquired_at)),
        el("td", { class: "last-seen" }, when(holder.last_seen)),
        el("td", {}, button)));
    }
  }
  fill("#groups", rows);
}

function renderPools(pools) {
  fill("#pools", pools.pools.map((pool) => el("tr", { "data-pool": pool.name },
    el("td", { class: "pool" }, pool.name),
    el("td", { class: "hash current" }, pool.current || "-"),
    el("td", { class: "hash desired" }, pool.desired || "-"),
    el("td", { class: "reports" }, pool.nodes.length),
    el("td", { class: "error" }, pool.error || ""))));
}

function renderNodes(nodes) {
  fill("#nodes", nodes.nodes.map((node) => el("tr", { "data-node": node.node_uuid },
    el("td", { class: "id" }, node.node_uuid),
    el("td", {}, node.stream || "-"),
    el("td", { class: "version" }, node.os_version || "-"),
    el("td", {}, node.group || "-"),
    el("td", {}, node.platform || "-"),
    el("td", {}, when(node.last_seen)))));
}

async function load() {
  if (!token()) {
    setStatus("Enter an admin token to see the fleet.", "no-token");
    return;
  }
  try {
    const [locks, pools, releases, versions, nodes] = await Promise.all([
      api("/v1/locks"), api("/v1/pools"), api("/v1/releases"), api("/v1/versions"), api("/v1/nodes"),
    ]);
    renderVersions(versions);
    renderReleases(releases);
    renderLocks(locks);
    renderPools(pools);
    renderNodes(nodes);
    loads += 1;
    document.body.dataset.loads = String(loads);
    setStatus("Updated " + when(Date.now()) + ".", "ready");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      setStatus("The server refused the token: " + error.message, "error");
    } else {
      setStatus("Could not load: " + error.message, "error");
    }
  }
}

function start() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    load();
  });
  load();
  setInterval(load, REFRESH_MS);
}

start();
