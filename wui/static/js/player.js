// Recording page: asciinema-player for a terminal clip, the browser's own
// player for video. data-start (seconds) starts playback at a transcript
// match. The media is fetched only when the user presses play, which is
// when the server logs the play.
"use strict";
(function () {
  var el = document.getElementById("player");
  if (!el) {
    return;
  }
  var start = parseFloat(el.getAttribute("data-start")) || 0;
  if (el.tagName === "VIDEO") {
    var seeked = false;
    el.addEventListener("play", function () {
      if (!seeked && start > 0) {
        seeked = true;
        el.currentTime = start;
      }
    });
    return;
  }
  if (typeof AsciinemaPlayer === "undefined") {
    el.textContent = "The terminal player could not be loaded.";
    return;
  }
  var opts = { fit: "width", terminalFontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace", idleTimeLimit: 2 };
  if (start > 0) {
    opts.startAt = start;
  }
  window.vigilPlayer = AsciinemaPlayer.create(el.getAttribute("data-src"), el, opts);
})();
