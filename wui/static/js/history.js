// Session history: the arrow of a row shows or hides its View / Download
// all row.
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest && ev.target.closest("button.expander");
  if (!btn) {
    return;
  }
  var detail = document.getElementById(btn.getAttribute("aria-controls"));
  if (!detail) {
    return;
  }
  var open = btn.getAttribute("aria-expanded") === "true";
  btn.setAttribute("aria-expanded", open ? "false" : "true");
  detail.hidden = open;
});
