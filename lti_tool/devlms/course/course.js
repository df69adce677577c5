/* CBSI demo course: a small SCORM 1.2 SCO written for this project.
 * It finds the LMS API by the standard parent/opener search, bookmarks the page in
 * cmi.core.lesson_location, keeps answers in cmi.suspend_data, and reports score and status. */
(function () {
  "use strict";
  function findAPI(win) {
    for (var hops = 0; win && hops < 10; hops++) {
      if (win.API) { return win.API; }
      if (win.parent && win.parent !== win) { win = win.parent; } else { break; }
    }
    return null;
  }
  var api = findAPI(window) || (window.opener ? findAPI(window.opener) : null);
  var pages = Array.prototype.slice.call(document.querySelectorAll(".page"));
  var current = 1;
  var state = { answers: {} };

  function lms(method, a, b) {
    if (!api) { return ""; }
    return b === undefined ? api[method](a === undefined ? "" : a) : api[method](a, b);
  }
  function show(n) {
    current = Math.max(1, Math.min(pages.length, n));
    pages.forEach(function (p) { p.hidden = Number(p.dataset.page) !== current; });
    document.getElementById("prev").disabled = current === 1;
    document.getElementById("next").disabled = current === pages.length;
    document.getElementById("position").textContent = "Page " + current + " of " + pages.length;
    lms("LMSSetValue", "cmi.core.lesson_location", String(current));
    lms("LMSCommit");
  }
  function save() {
    lms("LMSSetValue", "cmi.suspend_data", JSON.stringify(state));
  }

  lms("LMSInitialize");
  if (lms("LMSGetValue", "cmi.core.entry") === "resume") {
    try { state = JSON.parse(lms("LMSGetValue", "cmi.suspend_data") || "{}"); } catch (e) { state = { answers: {} }; }
    state.answers = state.answers || {};
    current = Number(lms("LMSGetValue", "cmi.core.lesson_location")) || 1;
  }
  if (lms("LMSGetValue", "cmi.core.lesson_status") === "not attempted") {
    lms("LMSSetValue", "cmi.core.lesson_status", "incomplete");
  }
  Object.keys(state.answers).forEach(function (q) {
    var input = document.querySelector('input[name="' + q + '"][value="' + state.answers[q] + '"]');
    if (input) { input.checked = true; }
  });
  document.querySelectorAll("input[type=radio]").forEach(function (input) {
    input.addEventListener("change", function () { state.answers[input.name] = input.value; save(); lms("LMSCommit"); });
  });
  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.getElementById("quiz").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = { q1: "b", q2: "b" };
    var right = Object.keys(key).filter(function (q) { return state.answers[q] === key[q]; }).length;
    var score = Math.round(100 * right / Object.keys(key).length);
    lms("LMSSetValue", "cmi.core.score.min", "0");
    lms("LMSSetValue", "cmi.core.score.max", "100");
    lms("LMSSetValue", "cmi.core.score.raw", String(score));
    lms("LMSSetValue", "cmi.core.lesson_status", score >= 80 ? "passed" : "failed");
    save();
    lms("LMSCommit");
    document.getElementById("result").textContent = "Your score: " + score + "%" + (score >= 80 ? " — passed." : " — review and try again.");
  });
  var started = Date.now();
  function finish() {
    var secs = Math.round((Date.now() - started) / 1000);
    var hh = String(Math.floor(secs / 3600)).padStart(2, "0");
    var mm = String(Math.floor(secs / 60) % 60).padStart(2, "0");
    var ss = String(secs % 60).padStart(2, "0");
    lms("LMSSetValue", "cmi.core.session_time", hh + ":" + mm + ":" + ss);
    lms("LMSSetValue", "cmi.core.exit", "suspend");
    lms("LMSFinish");
    api = null;
  }
  window.addEventListener("pagehide", finish);
  window.addEventListener("beforeunload", finish);
  show(current);
}());
