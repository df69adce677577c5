/*
 * CBSI-Connect SCORM runtime, browser side (SCORM 1.2 "API" and SCORM 2004 "API_1484_11").
 *
 * The SCORM run-time API is synchronous (SCORM 1.2 RTE §3.3, SCORM 2004 4th ed. RTE §3.1), so
 * every GetValue/SetValue is answered here, from an in-memory copy of the attempt's CMI data,
 * validated against the element tables the server exports. The server re-validates every commit
 * and is the authority (DESIGN.md §3, §5.5): this file only has to be *close* to it.
 *
 * No build step, no dependency: plain modern JavaScript loaded with <script src>.
 *
 * ============================================================================================
 * 1. RUNTIME CONFIG (embedded by the server in the player page, see player.html)
 * ============================================================================================
 *   {
 *     "version":   "1.2" | "2004",          // data model ("2004" covers 2nd, 3rd, 4th editions)
 *     "attemptId": string,                   // scopes the localStorage queue
 *     "scoId":     string,                   // idem (one runtime per SCO launch)
 *     "commitUrl": string,                   // POST target for commits (absolute or page-relative)
 *     "token":     string,                   // attempt-scoped bearer token
 *     "seq":       integer,                  // last seq the server accepted for attempt+sco (0 = none)
 *     "lastCommitId": string | null,         // optional: id of the last commit the server applied;
 *                                            //   lets a reload drop queued commits already applied
 *     "state":     {element: string, ...}    // initial CMI values (flat, concrete indices, e.g.
 *                | {"values": {...}},        //   "cmi.objectives.0.id"); a {"values": ...} wrapper
 *                                            //   (server state document) is accepted too
 *     "tables":    TABLES,                   // see 2.
 *     "commitIntervalMs": 30000,             // optional: periodic commit while dirty
 *     "retry": {"minMs": 1000, "maxMs": 60000}   // optional: commit retry backoff bounds
 *   }
 *
 * ============================================================================================
 * 2. TABLES: the JSON of scorm.cmi.export_tables(version) (the server's authority, RTE tables)
 * ============================================================================================
 *   {
 *     "version": "1.2" | "2004",
 *     "index_pattern": "\\.[0-9]+(?=\\.|$)",   // numeric path segments -> ".n"
 *     "length_unit": "code_points",          // optional: count max_length in code points, as Python
 *     "elements": {                          // every element incl. keywords; indices as "n"
 *       "cmi.interactions.n.id": {
 *         "access": "RO" | "WO" | "RW",
 *         "type": "<key of types>",
 *         "vocabulary": [..] | null,         // allowed values; "write_vocabulary" narrows SetValue
 *         "write_vocabulary": [..] | null,   //   (1.2 lesson_status: not "not attempted")
 *         "or_decimal": bool,                // vocabulary OR a decimal (interactions.n.result)
 *         "allow_blank": bool,               // "" accepted (1.2 CMIBlank scores)
 *         "range": [min|null, max|null] | null,
 *         "max_length": int | null,          // overrides the type's cap
 *         "default": string | null,          // read when unset; null = not initialised (2004 403)
 *         "keyword": "_children" | "_count" | "_version" | null,
 *         "keyword_value": string | null,    // value of _children / _version
 *         "array": string | null,            // for _count: the normalised array it counts
 *         "requires": [path, ..],            // must hold a value first (2004 408), same indices
 *         "creates": bool,                   // 2004: may this element create entry n == _count
 *         "response": "pattern" | "learner" | null   // 2004 interaction response formats
 *       }
 *     },
 *     "arrays": {"cmi.interactions": {"max_count": int, "sco_creatable": bool}, ...},
 *     "types": {"<name>": {"pattern": "^...$" | null, "max_length": int | null,
 *                          "numeric": bool, "checks": ["calendar" | "localized"]}},
 *     "errors": {"<kind>": code},            // e.g. "type_mismatch": 406 (built-in table if absent)
 *     "responses": {"delimiters": {...}, "items": {...}, "types": {...}}   // 2004 only
 *   }
 *   Rules mirrored from scorm/cmi/model.py (the server applies the same, and wins): index <=
 *   _count on set (== appends; 2004: only for elements with "creates" at the last level, else
 *   408), index < _count on get; requires -> 408; 2004 objective ids unique and immutable (351),
 *   interaction objective ids unique per interaction (351); response formats by interaction
 *   type; evaluated completion_status / success_status (RTE 4th §4.2.4.1, §4.2.22.1).
 *
 * ============================================================================================
 * 3. COMMIT CONTRACT
 * ============================================================================================
 *   POST <commitUrl>
 *     Authorization: Bearer <token>
 *     Content-Type: application/json
 *     {"seq": int, "id": "<hex>", "session": "<hex>", "changes": {element: value, ...},
 *      "terminate": bool}
 *   (assets, from player.js: the same with "changes": {}, "terminate": true, "asset_completed": true)
 *
 *   changes    the values set since the previous commit that differ from what the server holds
 *              or is being sent (a value set again unchanged is left out: content that sets its
 *              whole model before every Commit posts only what moved), in first-set order (the
 *              server's apply_commit re-orders by dependency anyway). Values are strings. The
 *              server validates them against the stored state and stores the merged document;
 *              it accepts a whole model too (older players, unchanged values are skipped).
 *   seq        strictly increases per page, starting at config.seq + 1. Gaps are allowed: the
 *              server accepts a commit iff seq > the last seq it accepted for attempt+sco.
 *   id         unique per commit. THE SERVER MUST answer 200 without re-applying when it sees
 *              the id of a commit it already applied (a retry whose answer was lost), and should
 *              put the last applied id in the next page's config as "lastCommitId".
 *   session    one id per launch of the SCO (per runtime instance). "terminate": true ends that
 *              session: THE SERVER MUST finish a session (total_time += session_time, exit/entry
 *              rules) at most once per session id, as page-exit commits may repeat a terminate.
 *   Answers:
 *     2xx {"seq": int, "token"?: string}       accepted; a "token" replaces the bearer token;
 *         "nav"?, "items"?                      (multi-item courses, when the commit changed
 *                                               sequencing) passed on in "cbsi:commit-committed"
 *     409 {"expected_seq": int}                 stale seq: the queue is renumbered from expected_seq
 *                                               and resent
 *     401 / 403 / 404 / 410                     token refused, attempt unknown or closed: no retry;
 *                                               the queue stays in localStorage (a relaunch with a
 *                                               fresh token/config sends it)
 *     400 / 413 / 422 {"error", "message"}      refused for good: the commit is dropped (a
 *                                               "cbsi:commit-rejected" event) so it cannot block
 *                                               the queue. Prefer 200 with the rejected elements
 *                                               listed when only some values are invalid.
 *     network error, timeout, 408, 429, 5xx     kept and retried with exponential backoff + jitter
 *                                               (1 s .. 60 s) and at once on the "online" event
 *   The queue is mirrored in localStorage["cbsi-runtime:<attemptId>:<scoId>"] and replayed (and
 *   merged into the initial state) when the page is loaded again; batches up to and including
 *   config.lastCommitId are dropped first.
 *
 *   Page exit (pagehide / beforeunload / visibilitychange=hidden): everything pending of this
 *   session is merged into ONE commit with a fresh seq and sent with fetch(..., {keepalive:
 *   true}) (body < 60 kB); if that cannot be started, navigator.sendBeacon(commitUrl, JSON as
 *   text/plain). A beacon cannot carry headers: the token then travels in the JSON body as
 *   "token", and the body is text/plain (a CORS-safelisted type). THE SERVER MUST accept the
 *   token from the body field "token" when there is no Authorization header, and parse the body
 *   as JSON whatever its Content-Type. Larger bodies stay in localStorage for the next launch.
 *   The final pagehide (not beforeunload, not a bfcache pagehide) also sets "terminate": true
 *   for a session still running: many SCOs never call Terminate when the tab is closed. Such a
 *   commit also carries "unloaded": true: THE SERVER treats a SCORM 2004 session the content
 *   left without Terminate and without cmi.exit as suspended (cmi.exit = "suspend"), so the
 *   relaunch resumes with the location and suspend data (a closed tab is not a normal exit).
 *
 * window.cbsiRuntime exposes: flush() -> Promise<{ok, pending}>, runtime (current), create(config).
 */
(function (global) {
  "use strict";

  // ------------------------------------------------------------------------------------------
  // Error kinds and codes per version (SCORM 1.2 RTE §3.3.3; SCORM 2004 4th ed. RTE §3.1.7.6).
  // Kind names are those of scorm/cmi/errors.py; the exported tables' "errors" take precedence.
  // ------------------------------------------------------------------------------------------
  const CODES = {
    "1.2": {
      no_error: 0, general_exception: 101, initialization_failed: 101, already_initialized: 101,
      content_terminated: 101, termination_failed: 101, termination_before_init: 301,
      termination_after_termination: 101, retrieve_before_init: 301, retrieve_after_termination: 101,
      store_before_init: 301, store_after_termination: 101, commit_before_init: 301,
      commit_after_termination: 101, commit_failed: 101, general_argument: 201,
      general_get_failure: 201, general_set_failure: 201, no_children: 202, not_an_array: 203,
      undefined_element: 201, unimplemented_element: 401, value_not_initialized: 301,
      keyword_read_only: 402, read_only: 403, write_only: 404, type_mismatch: 405,
      // 1.2 has no out-of-range code: the range is part of the 1.2 type (CMISInteger...), 405.
      value_out_of_range: 405, dependency_not_established: 101,
    },
    "2004": {
      no_error: 0, general_exception: 101, initialization_failed: 102, already_initialized: 103,
      content_terminated: 104, termination_failed: 111, termination_before_init: 112,
      termination_after_termination: 113, retrieve_before_init: 122, retrieve_after_termination: 123,
      store_before_init: 132, store_after_termination: 133, commit_before_init: 142,
      commit_after_termination: 143, commit_failed: 391, general_argument: 201,
      general_get_failure: 301, general_set_failure: 351, no_children: 301, not_an_array: 301,
      undefined_element: 401, unimplemented_element: 402, value_not_initialized: 403,
      keyword_read_only: 404, read_only: 404, write_only: 405, type_mismatch: 406,
      value_out_of_range: 407, dependency_not_established: 408,
    },
  };

  const MESSAGES = {
    "1.2": {
      0: "No error", 101: "General exception", 201: "Invalid argument error",
      202: "Element cannot have children", 203: "Element not an array - cannot have count",
      301: "Not initialized", 401: "Not implemented error",
      402: "Invalid set value, element is a keyword", 403: "Element is read only",
      404: "Element is write only", 405: "Incorrect data type",
    },
    "2004": {
      0: "No error", 101: "General exception", 102: "General initialization failure",
      103: "Already initialized", 104: "Content instance terminated",
      111: "General termination failure", 112: "Termination before initialization",
      113: "Termination after termination", 122: "Retrieve data before initialization",
      123: "Retrieve data after termination", 132: "Store data before initialization",
      133: "Store data after termination", 142: "Commit before initialization",
      143: "Commit after termination", 201: "General argument error", 301: "General get failure",
      351: "General set failure", 391: "General commit failure",
      401: "Undefined data model element", 402: "Unimplemented data model element",
      403: "Data model element value not initialized", 404: "Data model element is read only",
      405: "Data model element is write only", 406: "Data model element type mismatch",
      407: "Data model element value out of range", 408: "Data model dependency not established",
    },
  };

  const KEYWORDS = ["_children", "_count", "_version"];
  // 2004 RTE 4th §4.4.2: adl.nav.request_valid.choice.{target=<id>} / .jump.{target=<id>}.
  const NAV_VALID_PREFIXES = [
    ["adl.nav.request_valid.choice.{target=", "adl.nav.request_valid.choice.{target=}"],
    ["adl.nav.request_valid.jump.{target=", "adl.nav.request_valid.jump.{target=}"],
  ];
  const DEFAULT_INDEX_PATTERN = "\\.[0-9]+(?=\\.|$)";
  const DECIMAL_RE = /^-?(?:[0-9]{1,10}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})$/;

  function normaliseVersion(v) {
    if (v === "1.2") return "1.2";
    if (typeof v === "string" && v.indexOf("2004") === 0) return "2004";
    throw new Error("cbsi runtime: unknown SCORM version " + JSON.stringify(v));
  }

  function stripLang(value) {
    if (value.indexOf("{lang=") === 0) {
      const end = value.indexOf("}");
      if (end !== -1) return value.slice(end + 1);
    }
    return value;
  }

  function calendarOk(value) {
    if (value.length < 10) return true;
    const y = Number(value.slice(0, 4));
    const m = Number(value.slice(5, 7));
    const d = Number(value.slice(8, 10));
    const dt = new Date(Date.UTC(y, m - 1, d));
    return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
  }

  /** Fill "n" placeholders of a normalised path with indices; returns [concrete, used]. */
  function fill(path, indices) {
    let used = 0;
    const out = path.split(".").map((p) => {
      if (p !== "n") return p;
      const v = indices[used];
      used += 1;
      return String(v);
    });
    return [out.join("."), used];
  }

  // ------------------------------------------------------------------------------------------
  // 2004 interaction response formats (RTE 4th §4.2.9.1 / §4.2.9.2), driven by tables.responses.
  // ------------------------------------------------------------------------------------------
  class ResponseChecker {
    constructor(doc, length) {
      this.doc = doc || null;
      this.len = length || ((t) => t.length);
      this.items = {};
      if (doc && doc.items) {
        for (const [k, v] of Object.entries(doc.items)) {
          this.items[k] = { re: v.pattern ? new RegExp(v.pattern) : null, max: v.max_length };
        }
      }
      const d = (doc && doc.delimiters) || {};
      this.list = d.list || "[,]";
      this.pair = d.pair || "[.]";
      this.range = d.range || "[:]";
    }

    format(type) {
      return this.doc && this.doc.types ? this.doc.types[type] || null : null;
    }

    checkRange(item) {
      // As scorm/cmi/responses.py _check_range: a single number is the exact answer (lenient,
      // see its SPEC COMPLIANCE NOTE; the golf examples record numeric patterns that way).
      if (item.indexOf(this.range) < 0) return DECIMAL_RE.test(item);
      const parts = item.split(this.range);
      if (parts.length !== 2) return false;
      const [lo, hi] = parts;
      for (const b of parts) if (b && !DECIMAL_RE.test(b)) return false;
      return !(lo && hi && Number(lo) > Number(hi));
    }

    checkItem(kind, item) {
      const sid = this.items.short_identifier;
      const isId = (x) => this.len(x) <= 250 && (!sid || !sid.re || sid.re.test(x));
      if (kind === "pair") {
        const p = item.split(this.pair);
        return p.length === 2 && isId(p[0]) && isId(p[1]);
      }
      if (kind === "step" || kind === "step_pattern") {
        const p = item.split(this.pair);
        if (p.length !== 2 || (p[0] === "" && p[1] === "")) return false;
        if (p[0] && !isId(p[0])) return false;
        if (this.len(p[1]) > 250) return false;
        if (kind === "step_pattern" && p[1].indexOf(this.range) >= 0) return this.checkRange(p[1]);
        return true;
      }
      if (kind === "numeric_range") return this.checkRange(item);
      const spec = this.items[kind];
      if (!spec) return false;
      const text = kind.indexOf("localized") === 0 ? stripLang(item) : item;
      if (typeof spec.max === "number" && this.len(text) > spec.max) return false;
      return !spec.re || spec.re.test(item);
    }

    stripPrefixes(value, allowed) {
      const seen = {};
      const re = /^\{(case_matters|order_matters)=([^}]*)\}/;
      while (value.indexOf("{case_matters=") === 0 || value.indexOf("{order_matters=") === 0) {
        const m = re.exec(value);
        if (!m) return null;
        if (allowed.indexOf(m[1]) < 0 || seen[m[1]] || (m[2] !== "true" && m[2] !== "false")) return null;
        seen[m[1]] = true;
        value = value.slice(m[0].length);
      }
      return value;
    }

    check(type, value, isPattern) {
      const fmt = this.format(type);
      if (!fmt) return false;
      const lf = isPattern ? fmt.pattern : fmt.learner;
      if (lf.prefixes && lf.prefixes.length) {
        let stripped = this.stripPrefixes(value, lf.prefixes);
        if (stripped === null) return false;
        // As responses.py: long-fill-in reads "{lang=xx}{case_matters=..}text" as two delimiters.
        if (lf.prefixes_after_lang && stripped === value && value.indexOf("{lang=") === 0) {
          const end = value.indexOf("}") + 1;
          const rest = end ? this.stripPrefixes(value.slice(end), lf.prefixes) : value;
          if (rest === null) return false;
          stripped = value.slice(0, end) + rest;
        }
        value = stripped;
      }
      if (value === "") return !!lf.allow_empty;
      const items = lf.delimiter ? value.split(lf.delimiter) : [value];
      if (items.length > lf.max_items) return false;
      if (lf.unique && new Set(items).size !== items.length) return false;
      return items.every((it) => this.checkItem(lf.item, it));
    }
  }

  // ------------------------------------------------------------------------------------------
  // The data model: get/set over a flat {element: value} map plus array counts, driven by the
  // exported tables. Mirrors scorm/cmi/model.py _read/_write (the server is the authority).
  // ------------------------------------------------------------------------------------------
  class CmiModel {
    constructor(tables, version, initial) {
      this.version = version;
      this.elements = tables.elements || {};
      this.arrays = tables.arrays || {};
      this.types = tables.types || {};
      this.indexRe = new RegExp(tables.index_pattern || DEFAULT_INDEX_PATTERN, "g");
      // Lengths as the server counts them: Python's len() counts code points, JS .length counts
      // UTF-16 units (an emoji is 2); "code_points" makes the caps agree.
      this.codePoints = tables.length_unit === "code_points";
      this.responses = version === "2004" ? new ResponseChecker(tables.responses, (t) => this.length(t)) : null;
      this.regex = {};
      for (const name of Object.keys(this.types)) {
        const p = this.types[name].pattern;
        if (p) this.regex[name] = new RegExp(p);
      }
      // Containers: every strict prefix of an element path that is not itself an element.
      this.containers = new Set();
      for (const path of Object.keys(this.elements)) {
        const parts = path.split(".");
        for (let i = 1; i < parts.length; i += 1) this.containers.add(parts.slice(0, i).join("."));
      }
      for (const path of Object.keys(this.elements)) this.containers.delete(path);
      this.values = new Map();
      this.counts = new Map();
      this.load(initial || {});
    }

    /** Initial values: stored as they are (the server validated them), counts derived. */
    load(initial) {
      for (const [element, raw] of Object.entries(initial)) {
        const value = String(raw);
        this.values.set(element, value);
        const [path, indices] = this.normalise(element);
        const arrays = this.arrayLevels(path);
        arrays.forEach((a, level) => {
          const key = fill(a.path, indices)[0];
          const n = indices[a.used];
          if (n + 1 > this.count(key)) this.counts.set(key, n + 1);
          return level;
        });
      }
    }

    /** ("cmi.interactions.3.objectives.0.id") -> ["cmi.interactions.n.objectives.n.id", [3, 0]]. */
    normalise(element) {
      for (const [prefix, path] of NAV_VALID_PREFIXES) {
        if (element.indexOf(prefix) === 0) {
          const target = element.slice(prefix.length);
          if (target.length > 1 && target.endsWith("}") && target.slice(0, -1).indexOf("}") < 0) return [path, []];
          return [element, []];
        }
      }
      const indices = [];
      this.indexRe.lastIndex = 0;
      const path = element.replace(this.indexRe, (m) => {
        // As tables.py index_value: "01" is no array's index (INVALID_INDEX).
        indices.push(m.length > 2 && m[1] === "0" ? 2147483647 : Number(m.slice(1)));
        return ".n";
      });
      return [path, indices];
    }

    /** The arrays an element path passes through: [{path, used, spec}] (outermost first). */
    arrayLevels(path) {
      const parts = path.split(".");
      const out = [];
      let used = 0;
      for (let i = 0; i < parts.length; i += 1) {
        if (parts[i] === "n") {
          const arrayPath = parts.slice(0, i).join(".");
          out.push({ path: arrayPath, used, spec: this.arrays[arrayPath] || {} });
          used += 1;
        }
      }
      return out;
    }

    count(key) {
      return this.counts.get(key) || 0;
    }

    _keywordParentKind(path, keyword) {
      const parent = path.slice(0, path.lastIndexOf("."));
      if (this.elements[parent] || this.containers.has(parent)) {
        if (keyword === "_children") return "no_children";
        if (keyword === "_count") return "not_an_array";
      }
      return "undefined_element";
    }

    /** GetValue: {value, kind} with kind "no_error" on success. */
    get(element) {
      if (typeof element !== "string" || element === "") {
        return { value: "", kind: this.version === "2004" ? "general_get_failure" : "general_argument" };
      }
      const [path, indices] = this.normalise(element);
      const spec = this.elements[path];
      if (!spec) {
        const last = path.slice(path.lastIndexOf(".") + 1);
        if (KEYWORDS.indexOf(last) >= 0) return { value: "", kind: this._keywordParentKind(path, last) };
        return { value: "", kind: "undefined_element" };
      }
      if (spec.access === "WO") return { value: "", kind: "write_only" };
      for (const level of this.arrayLevels(path)) {
        if (indices[level.used] >= this.count(fill(level.path, indices)[0])) {
          return { value: "", kind: "general_get_failure" };
        }
      }
      if (spec.keyword) {
        if (spec.keyword === "_count") {
          return { value: String(this.count(fill(spec.array || "", indices)[0])), kind: "no_error" };
        }
        return { value: spec.keyword_value || "", kind: "no_error" };
      }
      if (path === "adl.data.n.store") {
        // RTE 4th §4.3 (scorm/cmi/model.py _read): readSharedData="false" -> 405; empty -> 403.
        if (this.sharedDataAccess(indices[0]).indexOf("r") < 0) return { value: "", kind: "write_only" };
        if (!this.values.get(element)) return { value: "", kind: "value_not_initialized" };
      }
      if (this.version === "2004" && path.indexOf("adl.nav.request_valid.") === 0 && typeof this.requestValid === "function") {
        // RTE 4th §4.4.3: the sequencer's answer (the player's latest nav state); null = unknown.
        const m = /^adl\.nav\.request_valid\.(continue|previous|choice|jump)(?:\.\{target=([^{}]+)\})?$/.exec(element);
        const answer = m ? this.requestValid(m[1], m[2] || null) : null;
        if (answer === "true" || answer === "false") return { value: answer, kind: "no_error" };
      }
      if (this.version === "2004" && path === "cmi.completion_status") return { value: this.evaluatedCompletion(), kind: "no_error" };
      if (this.version === "2004" && path === "cmi.success_status") return { value: this.evaluatedSuccess(), kind: "no_error" };
      let value = this.values.has(element) ? this.values.get(element) : spec.default;
      if (value === null || value === undefined) {
        // RTE 1.2: an element without a value reads as "" (no error); 2004: 403.
        return { value: "", kind: this.version === "1.2" ? "no_error" : "value_not_initialized" };
      }
      return { value, kind: "no_error" };
    }

    /** adlcp:map permissions the server recorded for adl.data.n (model.py SHARED_DATA_ACCESS). */
    sharedDataAccess(index) {
      const access = this.values.get("adl.data." + index + ".~access");
      return access === undefined ? "rw" : access;
    }

    /** RTE 4th §4.2.4.1: with a completion_threshold, progress_measure decides. */
    evaluatedCompletion() {
      const threshold = this.values.get("cmi.completion_threshold");
      if (threshold !== undefined) {
        const progress = this.values.get("cmi.progress_measure");
        if (progress === undefined) return "unknown";
        return Number(progress) >= Number(threshold) ? "completed" : "incomplete";
      }
      return this.values.has("cmi.completion_status") ? this.values.get("cmi.completion_status") : "unknown";
    }

    /** RTE 4th §4.2.22.1: with a scaled_passing_score, score.scaled decides. */
    evaluatedSuccess() {
      const passing = this.values.get("cmi.scaled_passing_score");
      if (passing !== undefined) {
        const scaled = this.values.get("cmi.score.scaled");
        if (scaled === undefined) return "unknown";
        return Number(scaled) >= Number(passing) ? "passed" : "failed";
      }
      return this.values.has("cmi.success_status") ? this.values.get("cmi.success_status") : "unknown";
    }

    /** SetValue: {kind, value}; stores only when kind is "no_error". */
    set(element, raw) {
      if (typeof element !== "string" || element === "") {
        return { kind: this.version === "2004" ? "general_set_failure" : "general_argument" };
      }
      // Values are characterstrings (2004 RTE 4th §4.1.1.6); content scripts pass numbers.
      let value;
      if (typeof raw === "string") value = raw;
      else if (typeof raw === "number" && Number.isFinite(raw)) value = String(raw);
      else if (raw === null || raw === undefined || typeof raw === "boolean") return { kind: "type_mismatch" };
      else value = String(raw);
      const [path, indices] = this.normalise(element);
      const spec = this.elements[path];
      if (!spec) {
        const last = path.slice(path.lastIndexOf(".") + 1);
        if (KEYWORDS.indexOf(last) >= 0) {
          const parent = path.slice(0, path.lastIndexOf("."));
          if (this.elements[parent] || this.containers.has(parent)) return { kind: "keyword_read_only" };
        }
        return { kind: "undefined_element" };
      }
      if (spec.keyword) return { kind: "keyword_read_only" };
      if (spec.access === "RO") return { kind: "read_only" };
      if (path === "adl.data.n.store" && this.sharedDataAccess(indices[0]).indexOf("w") < 0) {
        return { kind: "read_only" }; // RTE 4th §4.3: writeSharedData="false" (404)
      }

      // Array indices (RTE 1.2 §3.4.3 / 2004 4th §4.1.1.3): n <= _count, n == _count appends.
      const creating = [];
      const levels = this.arrayLevels(path);
      for (let level = 0; level < levels.length; level += 1) {
        const a = levels[level];
        const key = fill(a.path, indices)[0];
        const n = this.count(key);
        const index = indices[a.used];
        if (index > n) return { kind: "general_set_failure" };
        if (index === n) {
          if (a.spec.sco_creatable === false || (typeof a.spec.max_count === "number" && index >= a.spec.max_count)) {
            return { kind: "general_set_failure" };
          }
          if (this.version === "2004" && (level < levels.length - 1 || spec.creates === false)) {
            return { kind: "dependency_not_established" };
          }
          creating.push([key, index + 1]);
        }
      }
      for (const req of spec.requires || []) {
        if (!this.values.has(fill(req, indices)[0])) return { kind: "dependency_not_established" };
      }
      const kind = this.validate(spec, value);
      if (kind) return { kind };
      if (this.version === "2004") {
        const k2 = this.rules2004(spec, path, element, value, indices);
        if (k2) return { kind: k2 };
      }
      this.values.set(element, value);
      for (const [key, n] of creating) this.counts.set(key, n);
      return { kind: "no_error", value };
    }

    length(text) {
      if (!this.codePoints || text.length <= 0) return text.length;
      const pairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g);
      return text.length - (pairs ? pairs.length : 0);
    }

    /** Type / vocabulary / range (scorm/cmi/model.py _make_validator). */
    validate(spec, value) {
      const vocab = spec.write_vocabulary || spec.vocabulary;
      if (vocab && vocab.length) {
        if (vocab.indexOf(value) >= 0) return null;
        if (!spec.or_decimal) return "type_mismatch";
        return DECIMAL_RE.test(value) ? null : "type_mismatch";
      }
      if (spec.allow_blank && value === "") return null;
      const type = this.types[spec.type] || {};
      const checks = type.checks || [];
      const maxLen = typeof spec.max_length === "number" ? spec.max_length : type.max_length;
      if (typeof maxLen === "number") {
        const text = checks.indexOf("localized") >= 0 ? stripLang(value) : value;
        if (this.length(text) > maxLen) return "type_mismatch";
      }
      const re = this.regex[spec.type];
      if (re && !re.test(value)) return "type_mismatch";
      if (checks.indexOf("calendar") >= 0 && !calendarOk(value)) return "type_mismatch";
      if (type.numeric && spec.range) {
        const num = Number(value);
        const lo = spec.range[0];
        const hi = spec.range[1];
        if ((lo !== null && lo !== undefined && num < lo) || (hi !== null && hi !== undefined && num > hi)) {
          return "value_out_of_range";
        }
      }
      return null;
    }

    /** Cross-element rules of SCORM 2004 (identifier uniqueness, response formats). */
    rules2004(spec, path, element, value, indices) {
      if (path === "cmi.objectives.n.id") {
        // RTE 4th §4.2.17: unique within cmi.objectives, immutable once set (351).
        const current = this.values.get(element);
        if (current !== undefined && current !== value) return "general_set_failure";
        for (let j = 0; j < this.count("cmi.objectives"); j += 1) {
          if (j !== indices[0] && this.values.get("cmi.objectives." + j + ".id") === value) return "general_set_failure";
        }
        return null;
      }
      if (path === "cmi.interactions.n.objectives.n.id") {
        const base = "cmi.interactions." + indices[0] + ".objectives";
        for (let j = 0; j < this.count(base); j += 1) {
          if (j !== indices[1] && this.values.get(base + "." + j + ".id") === value) return "general_set_failure";
        }
        return null;
      }
      if (spec.response && this.responses && this.responses.doc) {
        const itype = this.values.get("cmi.interactions." + indices[0] + ".type") || "";
        const fmt = this.responses.format(itype);
        if (!fmt) return "dependency_not_established";
        if (spec.response === "pattern") {
          const base = "cmi.interactions." + indices[0] + ".correct_responses";
          if (indices[1] >= fmt.max_patterns) return "general_set_failure";
          if (!this.responses.check(itype, value, true)) return "type_mismatch";
          if (fmt.unique_patterns) {
            for (let j = 0; j < this.count(base); j += 1) {
              if (j !== indices[1] && this.values.get(base + "." + j + ".pattern") === value) return "general_set_failure";
            }
          }
          return null;
        }
        if (!this.responses.check(itype, value, false)) return "type_mismatch";
      }
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------
  // The commit queue: ordered, persisted, retried; one request in flight at a time.
  // ------------------------------------------------------------------------------------------
  const KEEPALIVE_LIMIT = 60000; // bytes; browsers cap keepalive bodies in flight at 64 KiB
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 60000;
  const REQUEST_TIMEOUT_MS = 15000;

  function byteLength(text) {
    return typeof TextEncoder === "function" ? new TextEncoder().encode(text).length : text.length * 3;
  }

  function randomId() {
    const bytes = new Uint8Array(12);
    (global.crypto || window.crypto).getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class CommitQueue {
    constructor(opts) {
      this.url = opts.commitUrl;
      this.token = opts.token;
      this.seq = Number(opts.seq) || 0;
      this.storageKey = opts.storageKey;
      this.fetch = opts.fetch || global.fetch.bind(global);
      this.random = opts.random || Math.random;
      this.onEvent = opts.onEvent || function () {};
      this.queue = [];
      this.sending = null;
      this.failures = 0;
      this.conflicts = 0;
      this.retryTimer = null;
      this.authFailed = false;
      this.waiters = [];
      this.finalSent = new WeakSet();
      // One id per SCO session (per launch of the content): the server finishes a session
      // (session_time into total_time...) once per id, however often terminate arrives.
      this.session = opts.session || randomId();
      const retry = opts.retry || {};
      this.backoffMin = Number(retry.minMs) || BACKOFF_MIN_MS;
      this.backoffMax = Number(retry.maxMs) || BACKOFF_MAX_MS;
    }

    /** Commits left by an earlier page for the same attempt+sco (oldest first). */
    loadStored(lastCommitId) {
      let stored = [];
      try {
        stored = JSON.parse(global.localStorage.getItem(this.storageKey) || "[]");
      } catch (e) {
        stored = [];
      }
      if (!Array.isArray(stored)) stored = [];
      if (lastCommitId) {
        const at = stored.findIndex((b) => b && b.id === lastCommitId);
        if (at >= 0) stored = stored.slice(at + 1);
      }
      stored = stored.filter((b) => b && typeof b === "object" && b.changes && typeof b.changes === "object");
      // Renumber after the server's seq: those commits were never accepted on this page.
      for (const b of stored) {
        this.seq += 1;
        b.seq = this.seq;
      }
      this.queue = stored;
      this.persist();
      return stored;
    }

    persist() {
      try {
        if (this.queue.length) global.localStorage.setItem(this.storageKey, JSON.stringify(this.queue));
        else global.localStorage.removeItem(this.storageKey);
      } catch (e) {
        // Storage full or disabled (private mode, partitioned iframe): memory still holds it.
        this.onEvent("storage-error", { message: String(e) });
      }
    }

    get pending() {
      return this.queue.length;
    }

    enqueue(changes, extra) {
      this.seq += 1;
      const batch = Object.assign(
        { seq: this.seq, id: randomId(), session: this.session, changes: changes, terminate: false }, extra || {});
      this.queue.push(batch);
      this.persist();
      this.pump();
      return batch;
    }

    headers() {
      return { "Content-Type": "application/json", Authorization: "Bearer " + this.token };
    }

    pump() {
      if (this.sending || !this.queue.length || this.retryTimer || this.authFailed) {
        this._settle();
        return;
      }
      const batch = this.queue[0];
      this.sending = batch;
      const body = JSON.stringify(batch);
      const ctrl = typeof AbortController === "function" ? new AbortController() : null;
      const timer = ctrl ? setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS) : null;
      let req;
      try {
        req = this.fetch(this.url, {
          method: "POST",
          headers: this.headers(),
          body: body,
          keepalive: byteLength(body) < KEEPALIVE_LIMIT,
          credentials: "omit",
          cache: "no-store",
          signal: ctrl ? ctrl.signal : undefined,
        });
      } catch (e) {
        req = Promise.reject(e);
      }
      req.then(
        (resp) => resp.text().then((text) => {
          let data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          return { status: resp.status, data };
        }),
        () => ({ status: 0, data: null }),
      ).then((res) => {
        if (timer) clearTimeout(timer);
        this._handle(batch, res);
      });
    }

    _handle(batch, res) {
      if (this.sending === batch) this.sending = null;
      const at = this.queue.indexOf(batch);
      if (at < 0) { // merged into a page-exit commit meanwhile; that one carries its changes
        this.pump();
        return;
      }
      const status = res.status;
      if (status >= 200 && status < 300) {
        this.queue.splice(at, 1);
        this.failures = 0;
        this.conflicts = 0;
        if (res.data && typeof res.data.token === "string" && res.data.token) this.token = res.data.token;
        this.persist();
        const reply = res.data || {};
        this.onEvent("committed", { seq: batch.seq, id: batch.id, nav: reply.nav, items: reply.items });
        this.pump();
        return;
      }
      if (status === 409 && res.data && Number.isInteger(res.data.expected_seq) && this.conflicts < 5) {
        this.conflicts += 1;
        let next = res.data.expected_seq;
        for (const b of this.queue) {
          b.seq = next;
          next += 1;
        }
        this.seq = next - 1;
        this.persist();
        this.onEvent("resynced", { expected_seq: res.data.expected_seq });
        this.pump();
        return;
      }
      if (status === 401 || status === 403 || status === 404 || status === 410) {
        this.authFailed = true;
        this.onEvent("auth-failed", { status });
        this._settle();
        return;
      }
      if (status === 400 || status === 413 || status === 422) {
        this.queue.splice(at, 1);
        this.persist();
        this.onEvent("rejected", { status, seq: batch.seq, error: res.data, changes: batch.changes });
        this.pump();
        return;
      }
      // 0 (network/offline/timeout), 408, 409 without usable body, 429, 5xx: back off and retry.
      this.failures += 1;
      const base = Math.min(this.backoffMax, this.backoffMin * Math.pow(2, this.failures - 1));
      const delay = Math.round(base / 2 + this.random() * (base / 2));
      this.onEvent("retry", { status, delay, failures: this.failures });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delay);
      this._settle();
    }

    /** Retry now (the "online" event, a user action). */
    retryNow() {
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
      }
      this.pump();
    }

    /** Resolves once the queue is empty, or stuck (waiting for a retry / auth failure). */
    idle() {
      return new Promise((resolve) => {
        this.waiters.push(resolve);
        this._settle();
      });
    }

    _settle() {
      const done = !this.sending && (!this.queue.length || this.retryTimer || this.authFailed);
      if (!done || !this.waiters.length) return;
      const waiters = this.waiters;
      this.waiters = [];
      const result = { ok: this.queue.length === 0, pending: this.queue.length };
      for (const w of waiters) w(result);
    }

    /**
     * Page is going away: merge everything pending (including the request in flight) into one
     * commit with a fresh seq and send it so that it survives the page (keepalive / beacon).
     */
    finalFlush(extraChanges, terminate, unloaded) {
      const extraKeys = Object.keys(extraChanges || {});
      const nothingNew = !extraKeys.length && !terminate;
      if (!this.queue.length && nothingNew) return null;
      // Batches of an earlier session (replayed from localStorage) are never merged with this
      // session's: each session's session_time / terminate must reach the server on its own.
      let split = this.queue.length;
      while (split > 0 && this.queue[split - 1].session === this.session) split -= 1;
      const head = this.queue.slice(0, split);
      const tail = this.queue.slice(split);
      let merged = null;
      if (tail.length === 1 && nothingNew) {
        merged = tail[0]; // nothing to merge with
      } else if (tail.length || !nothingNew) {
        const changes = {};
        let term = !!terminate;
        let asset = false;
        for (const b of tail) {
          Object.assign(changes, b.changes);
          term = term || !!b.terminate;
          asset = asset || !!b.asset_completed;
        }
        Object.assign(changes, extraChanges || {});
        this.seq += 1;
        merged = { seq: this.seq, id: randomId(), session: this.session, changes, terminate: term };
        if (asset) merged.asset_completed = true;
        // the page ended a session the content never terminated: the server suspends the attempt
        if (unloaded && !tail.some((b) => b.terminate)) merged.unloaded = true;
      }
      this.queue = head.concat(merged ? [merged] : []);
      this.persist();
      if (this.retryTimer) {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
      }
      // Requests sent in parallel may arrive in any order and a lower seq arriving late is
      // refused (409): send only the oldest batch; the rest waits in localStorage for the next
      // launch (there is one batch in the usual case).
      const batch = this.queue[0];
      // In flight already (normal commits are sent with keepalive too) or sent at an earlier
      // page-exit event: do not send it twice.
      if (this.finalSent.has(batch) || this.sending === batch) return batch;
      this.finalSent.add(batch);
      const body = JSON.stringify(batch);
      let started = false;
      if (byteLength(body) < KEEPALIVE_LIMIT && !this.authFailed) {
        try {
          this.sending = batch;
          const req = this.fetch(this.url, {
            method: "POST", headers: this.headers(), body, keepalive: true, credentials: "omit", cache: "no-store",
          });
          started = true;
          req.then(
            (resp) => resp.text().then((text) => {
              let data = null;
              try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
              return { status: resp.status, data };
            }),
            () => ({ status: 0, data: null }),
          ).then((res) => this._handle(batch, res));
        } catch (e) {
          this.sending = null;
          started = false;
        }
      }
      if (!started && !this.authFailed && global.navigator && typeof global.navigator.sendBeacon === "function") {
        const withToken = Object.assign({ token: this.token }, batch);
        const blob = new Blob([JSON.stringify(withToken)], { type: "text/plain;charset=UTF-8" });
        started = global.navigator.sendBeacon(this.url, blob);
        this.onEvent("beacon", { seq: batch.seq, queued: started });
      }
      return batch;
    }
  }

  // ------------------------------------------------------------------------------------------
  // One SCO's runtime: the SCORM state machine over the model and the queue.
  // ------------------------------------------------------------------------------------------
  const NOT_INITIALIZED = "not-initialized";
  const RUNNING = "running";
  const TERMINATED = "terminated";

  class ScormRuntime {
    constructor(config, hooks) {
      this.config = config;
      this.version = normaliseVersion(config.version);
      this.hooks = hooks || {};
      this.codes = Object.assign({}, CODES[this.version], (config.tables && config.tables.errors) || {});
      this.messages = MESSAGES[this.version];
      this.status = NOT_INITIALIZED;
      this.lastError = 0;
      this.lastDiagnostic = "";
      this.dirty = new Map();
      let initial = config.state || {};
      if (initial && typeof initial.values === "object" && initial.values !== null) initial = initial.values;
      this.queue = registerQueue(new CommitQueue({
        commitUrl: config.commitUrl,
        token: config.token,
        seq: config.seq,
        storageKey: "cbsi-runtime:" + config.attemptId + ":" + config.scoId,
        fetch: this.hooks.fetch,
        retry: config.retry,
        onEvent: (name, detail) => {
          // a batch refused for good was never stored: its values are sent again when set again
          if (name === "rejected" && detail && detail.changes) {
            for (const k of Object.keys(detail.changes)) this.sent.delete(k);
          }
          this._emit("commit-" + name, detail);
        },
      }));
      const replay = this.queue.loadStored(config.lastCommitId || null);
      const merged = Object.assign({}, initial);
      for (const b of replay) Object.assign(merged, b.changes);
      // What the server holds, or will once the queue is sent: a value set again unchanged is
      // not posted (content that sets its whole model before every Commit sends only what moved).
      this.sent = new Map(Object.entries(merged));
      this.model = new CmiModel(config.tables || {}, this.version, merged);
      // adl.nav.request_valid.*: the embedding player knows the sequencer's latest answer.
      if (typeof this.hooks.requestValid === "function") this.model.requestValid = this.hooks.requestValid;
      this.intervalMs = Number(config.commitIntervalMs) || 30000;
      this.timer = setInterval(() => {
        if (this.status === RUNNING && this.dirty.size) this._commit(false);
      }, this.intervalMs);
      this.unloading = false;
      if (replay.length) this.queue.pump();
    }

    _emit(name, detail) {
      try {
        global.dispatchEvent(new CustomEvent("cbsi:" + name, { detail: Object.assign({ scoId: this.config.scoId }, detail || {}) }));
      } catch (e) { /* no CustomEvent: ignore */ }
    }

    _fail(kind, diagnostic) {
      this.lastError = this.codes[kind] !== undefined ? this.codes[kind] : 101;
      this.lastDiagnostic = diagnostic || this.messages[this.lastError] || "";
      return "false";
    }

    _ok() {
      this.lastError = 0;
      this.lastDiagnostic = "";
      return "true";
    }

    // The argument check comes first (as in scorm/cmi/api.py): Initialize("x") is 201 in any state.
    initialize(param) {
      if (param !== "" && param !== undefined && param !== null) {
        return this._fail("general_argument", "Initialize takes the empty string.");
      }
      if (this.status === RUNNING) return this._fail("already_initialized", "Initialize was already called.");
      if (this.status === TERMINATED) return this._fail("content_terminated", "The session has been terminated.");
      this.status = RUNNING;
      this._emit("initialized", {});
      return this._ok();
    }

    terminate(param) {
      if (param !== "" && param !== undefined && param !== null) {
        return this._fail("general_argument", "Terminate takes the empty string.");
      }
      if (this.status === NOT_INITIALIZED) return this._fail("termination_before_init", "Not initialized.");
      if (this.status === TERMINATED) return this._fail("termination_after_termination", "Already terminated.");
      this.status = TERMINATED;
      this._commit(true);
      clearInterval(this.timer);
      const nav = this.version === "2004" ? this.model.get("adl.nav.request").value || "_none_" : "_none_";
      this._ok();
      const cb = this.hooks.onTerminate;
      if (typeof cb === "function") setTimeout(() => cb({ navRequest: nav, runtime: this }), 0);
      this._emit("terminated", { navRequest: nav });
      return "true";
    }

    getValue(element) {
      if (this.status === NOT_INITIALIZED) { this._fail("retrieve_before_init", "Not initialized."); return ""; }
      if (this.status === TERMINATED) { this._fail("retrieve_after_termination", "Terminated."); return ""; }
      const res = this.model.get(element);
      if (res.kind !== "no_error") {
        this._fail(res.kind, String(element) + ": " + (this.messages[this.codes[res.kind]] || res.kind));
        return "";
      }
      this._ok();
      return res.value;
    }

    setValue(element, value) {
      if (this.status === NOT_INITIALIZED) return this._fail("store_before_init", "Not initialized.");
      if (this.status === TERMINATED) return this._fail("store_after_termination", "Terminated.");
      const res = this.model.set(element, value);
      if (res.kind !== "no_error") {
        return this._fail(res.kind, String(element) + ": " + (this.messages[this.codes[res.kind]] || res.kind));
      }
      this.dirty.set(element, res.value); // a Map keeps first-set order: ids stay before their details
      return this._ok();
    }

    commit(param) {
      if (param !== "" && param !== undefined && param !== null) {
        return this._fail("general_argument", "Commit takes the empty string.");
      }
      if (this.status === NOT_INITIALIZED) return this._fail("commit_before_init", "Not initialized.");
      if (this.status === TERMINATED) return this._fail("commit_after_termination", "Terminated.");
      // Persistence is asynchronous (SCORM allows it as long as the values are kept): the batch
      // is in memory and in localStorage until the server has it.
      this._commit(false);
      return this._ok();
    }

    _takeDirty() {
      const changes = {};
      for (const [k, v] of this.dirty) {
        if (this.sent.get(k) === v) continue; // the server has it (or it is in the queue)
        changes[k] = v;
        this.sent.set(k, v);
      }
      this.dirty.clear();
      return changes;
    }

    _commit(terminate) {
      const changes = this._takeDirty();
      if (this.unloading) {
        this.queue.finalFlush(changes, terminate);
        return;
      }
      if (!Object.keys(changes).length && !terminate) return;
      this.queue.enqueue(changes, { terminate: !!terminate });
    }

    /** Called by the player when the content was unloaded without Terminate/LMSFinish. */
    forceTerminate() {
      if (this.status === RUNNING) {
        this.status = TERMINATED;
        clearInterval(this.timer);
        this._commit(true);
      } else if (this.status === NOT_INITIALIZED) {
        this.status = TERMINATED;
        clearInterval(this.timer);
      }
    }

    /**
     * The page is going away (or hidden): send everything pending so it survives the page.
     * On the final pagehide the session ends even if the content never calls Terminate (many
     * do not on a closed tab); a Terminate the content still makes afterwards repeats it for the
     * same session id, which the server finishes once.
     */
    pageExit(final, endSession) {
      if (final) this.unloading = true;
      const changes = this._takeDirty();
      const ending = !!endSession && this.status === RUNNING;
      this.queue.finalFlush(changes, ending, ending);
    }

    /** Flush dirty values and wait until the queue is empty (or stuck). */
    flush() {
      if (this.dirty.size) this._commit(false);
      return this.queue.idle();
    }

    getLastError() {
      return String(this.lastError);
    }

    getErrorString(code) {
      const n = Number(code);
      if (code === "" || code === null || code === undefined || !Number.isInteger(n)) return "";
      return this.messages[n] || "";
    }

    getDiagnostic(code) {
      if (code === "" || code === null || code === undefined || String(code) === String(this.lastError)) {
        return this.lastDiagnostic || this.getErrorString(this.lastError);
      }
      return this.getErrorString(code);
    }

    dispose() {
      clearInterval(this.timer);
    }
  }

  // ------------------------------------------------------------------------------------------
  // The API objects on the player window, delegating to the current runtime. Content finds them
  // with the standard parent/opener search (1.2 RTE §3.3.6.1, 2004 RTE 4th §3.1.6).
  // ------------------------------------------------------------------------------------------
  let current = null;
  // Queues of earlier SCOs (or assets) that still hold unsent commits keep retrying after the
  // player moved on; page exit and the "online" event reach all of them.
  const liveQueues = new Set();

  function registerQueue(queue) {
    liveQueues.add(queue);
    return queue;
  }

  /** An API method that forwards to the current runtime (``fallback`` when no SCO is launched). */
  function forward(fn, fallback) {
    return function () {
      const rt = current;
      if (!rt) return fallback;
      return rt[fn].apply(rt, arguments);
    };
  }

  function make12() {
    const call = forward;
    return {
      LMSInitialize: call("initialize", "false"),
      LMSFinish: call("terminate", "false"),
      LMSGetValue: call("getValue", ""),
      LMSSetValue: call("setValue", "false"),
      LMSCommit: call("commit", "false"),
      LMSGetLastError: call("getLastError", "101"),
      LMSGetErrorString: call("getErrorString", ""),
      LMSGetDiagnostic: call("getDiagnostic", ""),
    };
  }

  function make2004() {
    const call = forward;
    return {
      version: "1.0",
      Initialize: call("initialize", "false"),
      Terminate: call("terminate", "false"),
      GetValue: call("getValue", ""),
      SetValue: call("setValue", "false"),
      Commit: call("commit", "false"),
      GetLastError: call("getLastError", "101"),
      GetErrorString: call("getErrorString", ""),
      GetDiagnostic: call("getDiagnostic", ""),
    };
  }

  /** Create the runtime for one SCO launch and make it the one the API objects talk to. */
  function start(config, hooks) {
    if (!config.tables || !config.tables.elements) {
      throw new Error("cbsi runtime: config.tables (scorm.cmi.export_tables) is missing");
    }
    if (current) current.dispose();
    const rt = new ScormRuntime(config, hooks);
    current = rt;
    if (rt.version === "1.2") {
      global.API = make12();
      try { delete global.API_1484_11; } catch (e) { global.API_1484_11 = undefined; }
    } else {
      global.API_1484_11 = make2004();
      try { delete global.API; } catch (e) { global.API = undefined; }
    }
    return rt;
  }

  function stop() {
    if (current) current.dispose();
    current = null;
  }

  function onPageExit(event) {
    if (event.type === "visibilitychange" && global.document.visibilityState !== "hidden") return;
    const final = event.type !== "visibilitychange";
    // beforeunload can still be cancelled and a persisted pagehide may come back (bfcache).
    const endSession = event.type === "pagehide" && !event.persisted;
    if (current) current.pageExit(final, endSession);
    for (const q of liveQueues) {
      if (current && q === current.queue) continue;
      if (q.pending) q.finalFlush({}, false);
      else liveQueues.delete(q);
    }
  }

  global.addEventListener("pagehide", onPageExit);
  global.addEventListener("beforeunload", onPageExit);
  global.document.addEventListener("visibilitychange", onPageExit);
  global.addEventListener("pageshow", (e) => {
    if (e.persisted && current) current.unloading = false; // restored from the back/forward cache
  });
  global.addEventListener("online", () => {
    for (const q of liveQueues) q.retryNow();
  });

  global.cbsiRuntime = {
    start,
    stop,
    get runtime() { return current; },
    /** Send everything pending (every live queue); resolves {ok, pending} once sent or stuck. */
    flush() {
      if (current && current.dirty.size) current._commit(false);
      const queues = Array.from(liveQueues);
      return Promise.all(queues.map((q) => q.idle())).then((results) => {
        let pending = 0;
        for (const r of results) pending += r.pending;
        for (const q of queues) if (!q.pending && (!current || q !== current.queue)) liveQueues.delete(q);
        return { ok: pending === 0, pending };
      });
    },
    /** A bare commit queue for one item (assets: {changes: {}, asset_completed: true}). */
    queueFor(opts) {
      const q = registerQueue(new CommitQueue({
        commitUrl: opts.commitUrl,
        token: opts.token,
        seq: opts.seq,
        retry: opts.retry,
        storageKey: "cbsi-runtime:" + opts.attemptId + ":" + opts.scoId,
        onEvent: (name, detail) => {
          try {
            global.dispatchEvent(new CustomEvent("cbsi:commit-" + name, { detail: Object.assign({ scoId: opts.scoId }, detail || {}) }));
          } catch (e) { /* ignore */ }
        },
      }));
      q.loadStored(opts.lastCommitId || null);
      q.pump();
      return q;
    },
    CmiModel,
    CommitQueue,
    ScormRuntime,
    CODES,
    MESSAGES,
  };
})(window);
