/* The cmi5 player page: list the course's AUs; launching one asks the tool for a new AU session
 * (POST /cmi5/launch/<attempt>, with the attempt token) and opens the AU's launch URL in the frame
 * (launchMethod AnyWindow) or in a window of its own (OwnWindow; the page itself when blocked). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("cbsi-player-config").textContent);
  var launchUrl = document.body.getAttribute("data-launch-url");
  var frame = document.getElementById("cbsi-content");
  var list = document.getElementById("cbsi-toc-list");
  var status = document.getElementById("cbsi-status");
  var ownWindow = document.getElementById("cbsi-own-window");

  var player = { config: config, busy: false, currentId: null, launched: 0 };
  window.cbsiPlayer = player;

  function launch(au) {
    status.textContent = "";
    player.busy = true;
    fetch(launchUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      /* locale: the page language, for the cmi5LearnerPreferences agent profile */
      body: JSON.stringify({ token: config.token, au: au, locale: document.documentElement.lang || null }),
    })
      .then(function (resp) {
        return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
      })
      .then(function (answer) {
        player.busy = false;
        if (!answer.ok) {
          status.textContent = answer.body.message || answer.body.error || "";
          return;
        }
        player.currentId = au;
        player.launched += 1;
        if (answer.body.launchMethod === "OwnWindow") {
          frame.hidden = true;
          ownWindow.hidden = false;
          if (!window.open(answer.body.url, "_blank")) {
            window.location.href = answer.body.url;
          }
        } else {
          ownWindow.hidden = true;
          if (frame.getAttribute("src")) {
            freshFrame();
          }
          frame.hidden = false;
          frame.src = answer.body.url;
        }
      })
      .catch(function (err) {
        player.busy = false;
        status.textContent = String(err);
      });
  }

  /* A new AU gets a new frame: the AU on screen is removed with its frame, so the redirect to
   * LMS.LaunchData's returnURL it makes while it unloads (cmi5 §10.2.6) cannot take over the frame
   * the next AU loads in. */
  function freshFrame() {
    var next = frame.cloneNode(false);
    next.removeAttribute("src");
    frame.parentNode.replaceChild(next, frame);
    frame = next;
  }

  /* The AU exited to LMS.LaunchData's returnURL, the tool's exit page, which calls this
   * (static/player/cmi5_exit.js). A course of one unit leaves for the LMS's return URL, as the
   * Exit button does; otherwise the course's units stay on screen to choose the next one. */
  player.auReturned = function (how) {
    if (!(how && how.ownWindow)) {
      freshFrame();
      frame.hidden = true;
    }
    ownWindow.hidden = true;
    player.currentId = null;
    if (config.returnUrl && (config.items || []).length <= 1) {
      window.top.location.href = config.returnUrl;
      return;
    }
    status.textContent = document.body.getAttribute("data-returned-text") || "";
  };

  (config.items || []).forEach(function (item) {
    var li = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "cbsi-toc-item";
    button.textContent = item.title;
    button.setAttribute("data-au", item.id);
    button.addEventListener("click", function () { launch(item.id); });
    li.appendChild(button);
    list.appendChild(li);
  });
  document.getElementById("cbsi-exit").addEventListener("click", function () {
    frame.src = "about:blank";
    if (config.returnUrl) {
      window.top.location.href = config.returnUrl;
    }
  });
  var first = config.current || ((config.items || [])[0] || {}).id;
  if (first) {
    launch(first);
  }
})();
