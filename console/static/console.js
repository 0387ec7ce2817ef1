// The workspace's keyboard shortcuts. "/" or "g c" focuses the customer search, "g i" opens the inbox, "?" lists
// them; on a taken conversation "r" focuses the reply box and Ctrl+Enter sends it (the conversation's own page
// adds its shortcuts with data-shortcut attributes: a key, clicking the element that carries it).
(function () {
  "use strict";
  var pending = null;
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function go(path) { window.location.assign(path); }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && typing(event.target) && event.target.form) {
      event.preventDefault();
      event.target.form.requestSubmit();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (pending === "g") {
      pending = null;
      if (event.key === "i") return go("/handoffs");
      if (event.key === "c") return go("/customers");
      return;
    }
    if (event.key === "g") { pending = "g"; setTimeout(function () { pending = null; }, 1200); return; }
    if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); } else { event.preventDefault(); go("/customers"); }
      return;
    }
    if (event.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) help.hidden = !help.hidden;
      return;
    }
    var target = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
    if (target) {
      event.preventDefault();
      if (/^(INPUT|TEXTAREA)$/.test(target.tagName)) target.focus(); else target.click();
    }
  });
})();
