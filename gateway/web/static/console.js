// The console's only script: confirmations before consequential actions and keyboard moves
// through work lists. Every page works without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("keydown", (event) => {
  const list = document.querySelector("[data-worklist]");
  if (!list || event.target.closest("input, textarea, select")) {
    return;
  }
  const links = Array.from(list.querySelectorAll("a[data-item]"));
  if (!links.length) {
    return;
  }
  const current = links.indexOf(document.activeElement);
  if (event.key === "j" || event.key === "k") {
    const step = event.key === "j" ? 1 : -1;
    const next = links[Math.min(links.length - 1, Math.max(0, current + step))];
    next.focus();
    event.preventDefault();
  }
});
