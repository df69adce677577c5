/* The page an AU returns to when it exits (LMS.LaunchData's returnURL, cmi5 §10.2.6): hand the
 * exit to the cmi5 player page that launched the AU, which is on this tool's origin.
 *  - In the player's frame: the player (window.parent) leaves for the LMS's return URL or shows
 *    the course's units again; the LMS page is never loaded inside the frame, where an LMS
 *    usually refuses to be framed.
 *  - In a window of its own (launchMethod OwnWindow): the player that opened it (window.opener)
 *    shows the course's units again, and this window closes itself when the browser allows it.
 * Without a player to hand over to (opened some other way), the page's own text stays. */
(function () {
  "use strict";
  function playerOf(win) {
    try {
      return win && win !== window && win.cbsiPlayer && typeof win.cbsiPlayer.auReturned === "function"
        ? win.cbsiPlayer : null;
    } catch (err) {
      return null; /* another origin: not our player */
    }
  }
  var framed = playerOf(window.parent);
  if (framed) {
    framed.auReturned({ ownWindow: false });
    return;
  }
  var opener = playerOf(window.opener);
  if (opener) {
    opener.auReturned({ ownWindow: true });
    window.close();
  }
})();
