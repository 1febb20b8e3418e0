// sudoless web UI: helpers every page uses. No framework, no build step, no network beyond this server.
// Rule for all scripts: data from the server is put into the page with textContent or attributes only,
// never parsed as HTML, so a job named "<script>" is shown as those characters.
"use strict";

window.Sudoless = (function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const SVG = "http://www.w3.org/2000/svg";

  // el("td", {class: "x", text: "y", dataset: {a: 1}, onclick: fn}, child, "text", ...)
  function build(ns, tag, attrs, children) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(null, tag, attrs, children);
  const svg = (tag, attrs, ...children) => build(SVG, tag, attrs, children);

  // Several requests in flight (a click and the live refresh) can each find the session ended: the first one
  // navigates, a second navigation would abort it half-way.
  let leaving = false;
  function toLogin() {
    if (leaving) return;
    leaving = true;
    window.location.assign("/ui/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // Reads a JSON answer; Azkaban's session answers and the UI's 401 send the visitor to the login page.
  async function readJson(response) {
    const text = await response.text();
    let body;
    try { body = text ? JSON.parse(text) : {}; } catch (e) { body = {error: text.slice(0, 500) || response.statusText}; }
    if (response.status === 401 || body.action === "login" || body.error === "session") {
      toLogin();
      throw new Error("Your session has ended; log in again.");
    }
    if (response.status === 403 && !body.error) body.error = "Permission denied.";
    return body;
  }

  // POST to the AJAX API (or a UI route) with the session's CSRF token; params: object or FormData.
  async function post(path, params) {
    let body = params;
    if (!(params instanceof FormData)) {
      body = new URLSearchParams();
      for (const [key, value] of Object.entries(params)) {
        if (Array.isArray(value)) value.forEach((v) => body.append(key, v));
        else if (value !== undefined && value !== null) body.append(key, String(value));
      }
    }
    const response = await fetch(path, {method: "POST", body, credentials: "same-origin",
      headers: {"X-CSRF-TOKEN": csrf, "X-Requested-With": "XMLHttpRequest"}});
    return readJson(response);
  }

  async function get(path, params) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const response = await fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "XMLHttpRequest"}});
    return readJson(response);
  }

  const pad = (n) => String(n).padStart(2, "0");
  // Every time carries its zone: the reader's, named as the browser names it ("CET", "GMT+2", "UTC").
  const zoneFormat = new Intl.DateTimeFormat(undefined, {timeZoneName: "short"});
  const zoneOf = (d) => (zoneFormat.formatToParts(d).find((p) => p.type === "timeZoneName") || {value: ""}).value;
  function fmtTime(ms) {
    if (ms === null || ms === undefined || ms < 0) return "-";
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneOf(d)}`.trim();
  }
  function fmtDuration(ms) {
    if (ms === null || ms === undefined || ms < 0) return "-";
    if (ms < 1000) return `${ms} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h}h ${pad(m % 60)}m`;
    return `${Math.floor(h / 24)}d ${pad(h % 24)}h`;
  }
  const statusClass = (status) => "s-" + String(status || "").toLowerCase().replace(/_/g, "-");

  // Azkaban error texts separate lines with "<br>": show them as separate lines of text.
  function showError(target, message) {
    target.replaceChildren();
    if (!message) { target.hidden = true; return; }
    const lines = String(message).split(/<br\s*\/?>/i).map((l) => l.trim()).filter(Boolean);
    if (lines.length <= 1) target.textContent = lines[0] || String(message);
    else target.append(el("ul", {}, ...lines.map((l) => el("li", {text: l}))));
    target.hidden = false;
  }

  function note(kind, text) {
    const box = document.getElementById("messages");
    if (!box) return;
    box.replaceChildren(el("p", {class: `note note-${kind}`, text}));
  }

  function pageData() {
    const holder = document.getElementById("page-data");
    return holder ? JSON.parse(holder.textContent) : {};
  }

  // Times are rendered in UTC by the server; show them in the reader's zone (the UTC text stays as title).
  function localTimes(root) {
    for (const node of (root || document).querySelectorAll("time[datetime]")) {
      const ms = Date.parse(node.getAttribute("datetime"));
      if (!Number.isNaN(ms) && !node.dataset.local) {
        const d = new Date(ms);
        // data-format="short": a column head's room, the month, day and time; the full time is on hover
        const short = node.dataset.format === "short";
        node.title = short ? `${fmtTime(ms)} (${node.textContent} UTC)` : node.textContent;
        node.textContent = short ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}` : fmtTime(ms);
        node.dataset.local = "1";
      }
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  // The navigation menu of narrow screens: the button says whether it is open (aria-expanded); Escape closes
  // it and gives the focus back to the button. CSS shows the button only on narrow screens.
  const header = document.querySelector("header.top");
  const menuButton = document.getElementById("menu-button");
  if (header && menuButton) {
    header.classList.add("js-menu");
    const setOpen = (open) => {
      menuButton.setAttribute("aria-expanded", String(open));
      header.classList.toggle("menu-open", open);
    };
    menuButton.addEventListener("click", () => setOpen(menuButton.getAttribute("aria-expanded") !== "true"));
    header.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && header.classList.contains("menu-open")) {
        setOpen(false);
        menuButton.focus();
      }
    });
  }

  // A table or timeline that scrolls inside itself (on a phone) must be reachable by keyboard to be scrolled:
  // while it overflows and holds nothing focusable, it takes the focus itself (tabindex 0), named by its
  // caption or heading for screen readers.
  function keyboardScroll() {
    for (const box of document.querySelectorAll("table.list, .table-wrap, .timeline")) {
      const scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      const focusable = box.querySelector("a[href], button, input, select, textarea, [tabindex]");
      if (scrolls && !focusable && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.scrollFocus = "1";
      } else if (!scrolls && box.dataset.scrollFocus) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    }
  }
  window.addEventListener("resize", keyboardScroll);

  const ready = () => { localTimes(document); keyboardScroll(); };
  document.addEventListener("DOMContentLoaded", ready);
  if (document.readyState !== "loading") ready();

  return {csrf, el, svg, post, get, fmtTime, fmtDuration, statusClass, showError, note, pageData, localTimes, toLogin,
    keyboardScroll};
})();
