/*
 * CBSI-Connect player shell: header (title, save status, new-window link, Exit), table of
 * contents, previous/next, and the content iframe. Needs runtime.js loaded first.
 *
 * ============================================================================================
 * PLAYER CONFIG (JSON in <script type="application/json" id="cbsi-player-config">)
 * ============================================================================================
 *   {
 *     "title":        string,                 // course title (header)
 *     "version":      "1.2" | "2004",
 *     "attemptId":    string,
 *     "token":        string,                 // attempt token for navUrl (Bearer)
 *     "navUrl":       string | null,          // see NAV CONTRACT; null = single item, no navigation
 *     "homeUrl":      string | null,          // the learner's courses page (a path of this tool)
 *     "returnUrl":    string | null,          // where Exit goes (top window), e.g. the LMS course;
 *                                             //   only http(s) URLs are followed (safeReturnUrl)
 *     "newWindowUrl": string | null,          // GET-able URL that renders this player afresh
 *                                             //   (null: the "open in new window" link is hidden)
 *     "autoContinue": bool,                   // 1.2: after LMSFinish, load the next item
 *     "tables":       TABLES | absent,        // shared by every SCO runtime (runtime.js §2);
 *                                             //   absent: window.CBSI_PLAYER_TABLES[version],
 *                                             //   set by the page's cached tables script
 *     "items": [{"id", "title", "url" | null, "kind": "sco" | "asset" | "cluster",
 *                "depth": int, "visible": bool, "disabled": bool, "completed": bool}],
 *     "current":      item id | null,          // item to launch first
 *     "runtime":      RUNTIME CONFIG | null    // for "current" (runtime.js §1; "tables" optional)
 *     "nav":          NAV | null                // button state (null: both disabled)
 *   }
 *   NAV: {"previous": bool, "continue": bool,  // the request is valid now (sequencing's answer)
 *         "hide": ["previous" | "continue" | ...] | absent}   // the SCO's adlnav:hideLMSUI
 *   Items of kind "cluster" (aggregations without content) are TOC headings. Only visible items
 *   are listed (the visible children of an invisible item are listed, indented by their listed
 *   ancestors); disabled ones are shown but cannot be chosen. The buttons follow NAV only.
 *
 * ============================================================================================
 * NAV CONTRACT (server side to be written)
 * ============================================================================================
 *   POST <navUrl>   Authorization: Bearer <token>   Content-Type: application/json
 *     {"request": "continue" | "previous" | "choice" | "jump" | "exit" | "exitAll" |
 *                 "suspendAll" | "abandon" | "abandonAll",
 *      "target": item id | null,               // for choice / jump
 *      "from": item id | null}                 // the item that was showing
 *   200 {"item": ITEM | null,                   // what to show next; null = nothing to launch
 *        "runtime": RUNTIME CONFIG | null,      // for a "sco" item: its fresh runtime config;
 *                                               //   for an "asset": {commitUrl, token, seq, scoId}
 *        "items": [ITEM, ...] | absent,         // refreshed TOC (completion, disabled, visible)
 *        "nav": NAV | absent,                   // absent: both buttons disabled
 *        "message": string | absent,            // shown when item is null (e.g. "Course complete")
 *        "end": bool | absent}                  // true: the session is over (show the exit page)
 *   4xx {"error", "message"}: the message is shown, the current item stays.
 *   The player always commits (and waits for the commit queue) BEFORE asking for navigation,
 *   so the server's sequencing sees the terminated SCO's final data.
 *
 * ASSETS: when an asset item is shown the player posts, through the same retrying queue,
 *   {"seq", "id", "changes": {}, "terminate": true, "asset_completed": true} to the asset's
 *   runtime.commitUrl; the server marks the item completed.
 *
 * EXIT button: the content is unloaded (the SCO's unload handler calls LMSFinish/Terminate),
 *   the runtime is terminated if the SCO did not do it, everything is committed, then
 *   {"request": "suspendAll"} goes to navUrl (if any), and the top window goes to returnUrl, or
 *   an exit page says the learner may close the window / return to the course.
 */
(function (global) {
  "use strict";

  const doc = global.document;
  const rt = global.cbsiRuntime;

  function $(id) {
    return doc.getElementById(id);
  }

  function readConfig() {
    const node = $("cbsi-player-config");
    if (!node) throw new Error("cbsi player: missing #cbsi-player-config");
    return JSON.parse(node.textContent);
  }

  // The player's words, in the learner's language: the page embeds them (#cbsi-player-messages,
  // from lti_tool/messages.py PLAYER through the gettext catalogues); "%(name)s" is filled from params.
  let MESSAGES = null;
  function t(key, params) {
    if (MESSAGES === null) {
      const node = $("cbsi-player-messages");
      try {
        MESSAGES = node ? JSON.parse(node.textContent) : {};
      } catch (e) {
        MESSAGES = {};
      }
    }
    const text = typeof MESSAGES[key] === "string" ? MESSAGES[key] : key;
    return text.replace(/%\((\w+)\)s/g, (m, name) => (params && name in params ? String(params[name]) : m));
  }

  function inFrame() {
    try {
      return global.self !== global.top;
    } catch (e) {
      return true;
    }
  }

  class Player {
    constructor(config) {
      this.config = config;
      this.items = (config.items || []).slice();
      this.currentId = config.current || null;
      this.navState = config.nav || null;
      this.driving = false; // the player itself is unloading the content (ignore Terminate nav)
      this.busy = false;
      this.assetQueue = null;
      this.frame = $("cbsi-content");
      this.panel = $("cbsi-panel");
      this.status = $("cbsi-status");
      this.toc = $("cbsi-toc");
      this.tocList = $("cbsi-toc-list");
      this.tocToggle = $("cbsi-toc-toggle");
      this.prevBtn = $("cbsi-prev");
      this.nextBtn = $("cbsi-next");
      this.exitBtn = $("cbsi-exit");
      this.newWindow = $("cbsi-new-window");
      // The server sends a navUrl when the course has more than one launchable item (visible or
      // not: a course wrapped in an invisible cluster still navigates).
      this.multi = !!config.navUrl;
    }

    start() {
      doc.body.classList.toggle("cbsi-multi", this.multi);
      doc.body.classList.toggle("cbsi-single", !this.multi);
      $("cbsi-title").textContent = this.config.title || "";
      doc.title = this.config.title || doc.title;
      this.renderToc();
      this.bind();
      this.setupNewWindow();
      if (global.matchMedia && global.matchMedia("(max-width: 720px)").matches) this.setTocOpen(false);
      const item = this.item(this.currentId);
      if (item && this.config.runtime) {
        this.load(item, this.config.runtime);
      } else if (this.multi) {
        this.navigate("continue", null);
      } else {
        this.showPanel("<h2>" + escapeHtml(t("nothing_to_show")) + "</h2><p>" + escapeHtml(t("no_content")) + "</p>");
      }
    }

    item(id) {
      return this.items.find((i) => i.id === id) || null;
    }

    // ---------------------------------------------------------------- table of contents
    renderToc() {
      const list = this.tocList;
      // Keep keyboard focus on the TOC entry across re-renders (after a choice, it stays put).
      const active = doc.activeElement;
      const focusedId = active && list.contains(active) && active.dataset ? active.dataset.itemId : null;
      list.textContent = "";
      // An invisible item is not listed but its visible descendants are: they are indented by
      // their listed ancestors only. (Items come in course order, a parent before its children.)
      const hiddenAbove = [];
      for (const it of this.items) {
        const depth = it.depth || 0;
        while (hiddenAbove.length && hiddenAbove[hiddenAbove.length - 1] >= depth) hiddenAbove.pop();
        if (it.visible === false) {
          hiddenAbove.push(depth);
          continue;
        }
        const li = doc.createElement("li");
        li.className = "cbsi-toc-item";
        li.style.setProperty("--depth", String(Math.max(0, depth - hiddenAbove.length)));
        let node;
        if (it.kind === "cluster" || !it.url) {
          node = doc.createElement("span");
          node.className = "cbsi-toc-cluster";
          node.textContent = it.title;
        } else if (it.disabled) {
          node = doc.createElement("span");
          node.className = "cbsi-toc-link is-disabled";
          node.setAttribute("aria-disabled", "true");
          node.textContent = it.title;
        } else {
          node = doc.createElement("a");
          node.className = "cbsi-toc-link";
          node.href = "#" + encodeURIComponent(it.id);
          node.dataset.itemId = it.id;
          node.textContent = it.title;
          if (it.id === this.currentId) node.setAttribute("aria-current", "page");
        }
        if (it.completed && it.kind !== "cluster") {
          const mark = doc.createElement("span");
          mark.className = "cbsi-done";
          mark.innerHTML = '<span aria-hidden="true">✓</span><span class="cbsi-sr"> (completed)</span>';
          node.appendChild(mark);
        }
        li.appendChild(node);
        list.appendChild(li);
      }
      if (focusedId) {
        const again = list.querySelector('a[data-item-id="' + cssEscape(focusedId) + '"]') ||
          list.querySelector("a[aria-current=page]");
        if (again) again.focus();
      }
      this.updateButtons();
    }

    /**
     * Previous/Continue follow the server's nav state only: enabled when sequencing says the
     * request is valid now, hidden when the delivered SCO's adlnav:hideLMSUI lists it. Without a
     * nav state (none sent yet) they stay disabled: the player never guesses from the menu.
     */
    updateButtons() {
      const nav = this.navState || {};
      const hide = Array.isArray(nav.hide) ? nav.hide : [];
      this.prevBtn.hidden = hide.includes("previous");
      this.nextBtn.hidden = hide.includes("continue");
      this.prevBtn.disabled = this.busy || nav.previous !== true;
      this.nextBtn.disabled = this.busy || nav.continue !== true;
    }

    setTocOpen(open) {
      doc.body.classList.toggle("cbsi-toc-closed", !open);
      this.tocToggle.setAttribute("aria-expanded", open ? "true" : "false");
    }

    bind() {
      this.tocList.addEventListener("click", (e) => {
        const a = e.target.closest("a[data-item-id]");
        if (!a) return;
        e.preventDefault();
        if (global.matchMedia && global.matchMedia("(max-width: 720px)").matches) this.setTocOpen(false);
        this.navigate("choice", a.dataset.itemId);
      });
      // Arrow keys move between TOC entries (Tab still walks them in order).
      this.tocList.addEventListener("keydown", (e) => {
        const links = Array.from(this.tocList.querySelectorAll("a[data-item-id]"));
        const at = links.indexOf(doc.activeElement);
        if (at < 0) return;
        let to = -1;
        if (e.key === "ArrowDown") to = Math.min(links.length - 1, at + 1);
        else if (e.key === "ArrowUp") to = Math.max(0, at - 1);
        else if (e.key === "Home") to = 0;
        else if (e.key === "End") to = links.length - 1;
        if (to < 0) return;
        e.preventDefault();
        links[to].focus();
      });
      this.tocToggle.addEventListener("click", () => {
        const open = doc.body.classList.contains("cbsi-toc-closed");
        this.setTocOpen(open);
        // On a phone the TOC overlays the content: take the focus into it (Escape closes it).
        if (open && global.matchMedia && global.matchMedia("(max-width: 720px)").matches) {
          const target = this.tocList.querySelector("a[aria-current=page]") || this.tocList.querySelector("a");
          if (target) target.focus();
        }
      });
      doc.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && !doc.body.classList.contains("cbsi-toc-closed") &&
            global.matchMedia && global.matchMedia("(max-width: 720px)").matches) {
          this.setTocOpen(false);
          this.tocToggle.focus();
        }
      });
      this.prevBtn.addEventListener("click", () => this.navigate("previous", null));
      this.nextBtn.addEventListener("click", () => this.navigate("continue", null));
      this.exitBtn.addEventListener("click", () => this.exit());
      global.addEventListener("cbsi:commit-retry", () => this.setStatus("offline"));
      global.addEventListener("cbsi:commit-auth-failed", () => this.setStatus("auth"));
      global.addEventListener("cbsi:commit-committed", (e) => {
        this.setStatus("saved");
        // A commit that changed sequencing carries the refreshed menu and buttons (a passed SCO
        // can enable Continue); a navigation in flight brings its own.
        const d = (e && e.detail) || {};
        if (this.busy || !this.multi || !d.nav) return;
        this.navState = d.nav;
        if (!d.nav.continue_refused) this.showNavNotice("");
        if (Array.isArray(d.items)) this.items = d.items;
        this.renderToc();
      });
      global.addEventListener("cbsi:commit-rejected", () => this.setStatus("rejected"));
      global.addEventListener("online", () => this.setStatus("saving"));
    }

    /**
     * adl.nav.request_valid.* for the SCO (RTE 4th §4.4.3), from the server's latest nav state and
     * menu (refreshed by every commit and navigation reply): "true", "false", or null (unknown).
     */
    requestValid(kind, target) {
      const nav = this.navState;
      if (!nav) return null;
      if (kind === "continue" || kind === "previous") return nav[kind] === true ? "true" : "false";
      const item = target ? this.item(target) : null;
      if (!item) return null;
      if (kind === "choice") return item.disabled ? "false" : "true";
      if (kind === "jump" && Array.isArray(nav.jump)) return nav.jump.indexOf(target) >= 0 ? "true" : "false";
      return null;
    }

    /** A short message next to the buttons (role=status), e.g. why Continue cannot go on yet. */
    showNavNotice(text) {
      let el = doc.getElementById("cbsi-nav-notice");
      if (!el) {
        if (!text) return;
        el = doc.createElement("p");
        el.id = "cbsi-nav-notice";
        el.className = "cbsi-nav-notice";
        el.setAttribute("role", "status");
        this.nextBtn.parentNode.insertBefore(el, this.prevBtn);
      }
      el.textContent = text;
      el.hidden = !text;
    }

    setStatus(kind) {
      const text = ["saving", "saved", "offline", "auth", "rejected"].includes(kind) ? t(kind) : "";
      this.status.textContent = text;
      this.status.title = text;
      this.status.dataset.state = kind;
    }

    setupNewWindow() {
      const url = this.config.newWindowUrl;
      if (!url || !inFrame()) {
        this.newWindow.hidden = true;
        return;
      }
      this.newWindow.href = url;
      this.newWindow.hidden = false;
      this.newWindow.addEventListener("click", () => {
        // The learner continues in the new window: stop this copy so they do not both write.
        setTimeout(() => {
          this.unloadContent().then(() => {
            this.showPanel(
              "<h2>The course is open in a new window</h2>" +
              "<p>Your progress here was saved. Continue in the new window, or " +
              '<a href="" id="cbsi-reload">continue here instead</a>.</p>',
            );
          });
        }, 0);
      });
    }

    // ---------------------------------------------------------------- content lifecycle
    /** Unload the content (its unload handler terminates), close the runtime, commit all. */
    unloadContent() {
      this.driving = true;
      return new Promise((resolve) => {
        const frame = this.frame;
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          frame.removeEventListener("load", finish);
          const current = rt.runtime;
          if (current) current.forceTerminate();
          rt.stop();
          rt.flush().then((res) => {
            this.driving = false;
            resolve(res);
          });
        };
        if (frame.getAttribute("src") && frame.getAttribute("src") !== "about:blank") {
          frame.addEventListener("load", finish);
          frame.setAttribute("src", "about:blank");
          setTimeout(finish, 3000);
        } else {
          finish();
        }
      });
    }

    load(item, runtimeConfig) {
      this.currentId = item.id;
      this.hidePanel();
      if (item.kind === "sco" && !(runtimeConfig && runtimeConfig.commitUrl)) {
        this.showPanel("<h2>" + escapeHtml(t("no_runtime_title")) + "</h2><p>" + escapeHtml(t("no_runtime_text")) + "</p>");
        return;
      }
      if (item.kind === "sco") {
        const cfg = Object.assign({ version: this.config.version, attemptId: this.config.attemptId, scoId: item.id },
          runtimeConfig || {});
        if (!cfg.tables) cfg.tables = this.config.tables || (window.CBSI_PLAYER_TABLES || {})[cfg.version];
        rt.start(cfg, {
          onTerminate: (info) => this.onTerminate(info),
          requestValid: (kind, target) => this.requestValid(kind, target),
        });
      } else if (item.kind === "asset" && runtimeConfig && runtimeConfig.commitUrl) {
        // An asset has no API: opening it completes it (commit with asset_completed).
        const q = rt.queueFor(Object.assign({ attemptId: this.config.attemptId, scoId: item.id }, runtimeConfig));
        q.enqueue({}, { terminate: true, asset_completed: true });
        item.completed = true;
      }
      this.frame.setAttribute("title", item.title || t("course_content"));
      this.frame.setAttribute("src", item.url);
      $("cbsi-item-title").textContent = this.multi ? item.title || "" : "";
      this.renderToc();
    }

    /** The SCO called Terminate/LMSFinish (asynchronously after it returned). */
    onTerminate(info) {
      if (this.driving) return;
      const req = info.navRequest || "_none_";
      const m = /^\{target=([^}]+)\}(choice|jump)$/.exec(req);
      if (m) return this.navigate(m[2], m[1], { fromContent: true });
      if (req === "continue" || req === "previous" || req === "exit" || req === "abandon") {
        return this.navigate(req, null, { fromContent: true });
      }
      if (req === "exitAll" || req === "suspendAll" || req === "abandonAll") {
        return this.navigate(req, null, { fromContent: true, end: true });
      }
      if (this.config.version === "1.2" && this.config.autoContinue && this.multi) {
        return this.navigate("continue", null, { fromContent: true });
      }
      // _none_: the learner chooses what next (single item: nothing else to choose).
      return rt.flush().then((res) => {
        if (!this.multi) this.showExitPage(!res.ok);
        else this.setStatus(res.ok ? "saved" : "offline");
      });
    }

    async navigate(request, target, opts) {
      opts = opts || {};
      if (this.busy || !this.config.navUrl) {
        if (opts.end) this.showExitPage(false);
        return;
      }
      // Continue is enabled whenever the book's Navigation Request Process (NB.2.1) validates it
      // (ADL CTS CM-07d); when the flow would still refuse it, the server sent the reason: say it
      // and keep the activity on screen instead of unloading it for a request that must fail.
      const refused = () => {
        const r = (this.navState || {}).continue_refused;
        return typeof r === "string" && r ? r : null;
      };
      if (request === "continue" && !opts.fromContent && refused()) {
        // The SCO's latest data may unlock the flow: send it first (its reply refreshes the nav).
        try { await rt.flush(); } catch (e) { /* offline: the last known answer stands */ }
        if (refused()) {
          this.showNavNotice(refused());
          return;
        }
      }
      this.showNavNotice("");
      this.busy = true;
      this.updateButtons();
      this.setStatus("saving");
      try {
        await this.unloadContent();
        const res = await this.postNav({ request, target: target || null, from: this.currentId });
        if (Array.isArray(res.items)) this.items = res.items;
        if (res.nav) this.navState = res.nav;
        else this.navState = null;
        if (res.item && !res.end) {
          const known = this.item(res.item.id);
          if (known) Object.assign(known, res.item);
          else this.items.push(res.item);
          this.load(known || res.item, res.runtime || null);
        } else if (res.end || opts.end) {
          this.renderToc();
          this.showExitPage(false, res.message);
        } else {
          this.renderToc();
          this.showPanel("<h2>" + escapeHtml(res.message || t("nothing_more")) + "</h2>" +
            "<p>" + escapeHtml(t("choose_item")) + "</p>");
        }
        this.setStatus("saved");
      } catch (err) {
        this.showPanel("<h2>" + escapeHtml(t("nav_failed_title")) + "</h2><p>" + escapeHtml(String(err.message || err)) +
          "</p><p>" + escapeHtml(t("nav_failed_text")) + "</p>");
      } finally {
        this.busy = false;
        this.updateButtons();
      }
    }

    async postNav(body) {
      const resp = await fetch(this.config.navUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: "Bearer " + this.config.token,
          "Accept-Language": doc.documentElement.lang || "en",
        },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
      let data = null;
      try {
        data = await resp.json();
      } catch (e) {
        data = null;
      }
      if (!resp.ok) throw new Error((data && data.message) || t("server_answered", { status: resp.status }));
      return data || {};
    }

    async exit() {
      if (this.exiting) return;
      this.exiting = true;
      this.exitBtn.disabled = true;
      this.setStatus("saving");
      const res = await this.unloadContent();
      if (this.config.navUrl) {
        try {
          await this.postNav({ request: "suspendAll", target: null, from: this.currentId });
        } catch (e) {
          /* the commits are what matters; navigation state is rebuilt at the next launch */
        }
      }
      this.showExitPage(!res.ok);
      const returnUrl = safeReturnUrl(this.config.returnUrl);
      if (res.ok && returnUrl) {
        try {
          global.top.location.href = returnUrl;
        } catch (e) {
          /* cross-origin top without user activation: the exit page has the link */
        }
      }
    }

    showExitPage(pending, message) {
      const heading = message || t(pending ? "progress_saving" : "progress_saved");
      const parts = ["<h2>" + escapeHtml(heading) + "</h2>"];
      if (pending) {
        parts.push('<p class="cbsi-warn">' + escapeHtml(t("pending_warning")) + "</p>");
        const again = () => rt.flush().then((r) => {
          if (r.ok) {
            const warn = this.panel.querySelector(".cbsi-warn");
            if (warn) warn.textContent = t("all_saved");
            const h = this.panel.querySelector("h2");
            if (h && !message) h.textContent = t("progress_saved");
            this.setStatus("saved");
          }
        });
        global.addEventListener("cbsi:commit-committed", again);
      }
      const returnUrl = safeReturnUrl(this.config.returnUrl);
      if (returnUrl) {
        parts.push('<p><a class="cbsi-button" target="_top" href="' + escapeAttr(returnUrl) +
          '">' + escapeHtml(t("return_to_course")) + "</a></p>");
      }
      const homeUrl = this.config.homeUrl;
      if (typeof homeUrl === "string" && homeUrl.charAt(0) === "/" && homeUrl.charAt(1) !== "/") {
        parts.push('<p><a class="cbsi-button" id="cbsi-home" href="' + escapeAttr(homeUrl) +
          '">' + escapeHtml(t("your_courses")) + "</a></p>");
      }
      if (global.opener && !inFrame()) {
        parts.push('<p><button type="button" class="cbsi-button" id="cbsi-close">' + escapeHtml(t("close_window")) + "</button></p>");
      } else {
        parts.push("<p>" + escapeHtml(t("close_or_return")) + "</p>");
      }
      this.showPanel(parts.join(""));
      const close = $("cbsi-close");
      if (close) close.addEventListener("click", () => global.close());
      this.prevBtn.disabled = true;
      this.nextBtn.disabled = true;
    }

    showPanel(html) {
      this.panel.innerHTML = html;
      this.panel.hidden = false;
      this.frame.hidden = true;
      const h = this.panel.querySelector("h2");
      if (h) {
        h.setAttribute("tabindex", "-1");
        h.focus();
      }
    }

    hidePanel() {
      this.panel.hidden = true;
      this.panel.textContent = "";
      this.frame.hidden = false;
    }
  }

  /**
   * The return URL when it resolves to an http(s) URL, else null. The server only hands out
   * absolute https URLs (http in demo mode); this is the page's own guard, so a javascript:,
   * data: or vbscript: URL (however disguised: the URL parser sees what the browser would) can
   * never reach top.location or a link.
   */
  function safeReturnUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, global.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  const escapeAttr = escapeHtml;

  function cssEscape(s) {
    return global.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
  }

  function boot() {
    const player = new Player(readConfig());
    global.cbsiPlayer = player;
    player.start();
  }

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", boot);
  else boot();
})(window);
