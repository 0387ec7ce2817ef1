// The workspace's keyboard shortcuts. "/" or "g c" focuses the customer search, "g i" opens the inbox, "?" lists
// them; on a taken conversation "r" focuses the reply box and Ctrl+Enter sends it (the conversation's own page
// adds its shortcuts with data-shortcut attributes: a key, clicking the element that carries it).
(function () {
  "use strict";
  var pending = null;

  // A transcript line that is on the page already (a stream that started again) is not added twice.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var message = event.detail;
    if (message && message.type === "message" && message.lastEventId &&
        document.querySelector('#transcript tr[data-id="' + CSS.escape(message.lastEventId) + '"]')) {
      event.preventDefault();
    }
  });

  // Alerts: a sound and, once allowed, a desktop notification when the number waiting for a person goes up.
  var waiting = null;
  function beep() {
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.08;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no sound on this browser */ }
  }
  function alertWaiting(count) {
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (count > 0) document.title = "(" + count + ") " + document.title;
    if (waiting !== null && count > waiting) {
      beep();
      window.hearthAlerts = (window.hearthAlerts || 0) + 1;
      if (window.Notification && Notification.permission === "granted") {
        new Notification("Hearth: a customer is waiting", {body: count + " waiting for a person", tag: "hearth-waiting"});
      }
    }
    waiting = count;
  }
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "message" && /class="msg customer"/.test(event.detail.data)) {
      htmx.trigger(document.body, "customer-said");  // the suggested articles follow the customer's latest words
    }
    if (event.detail && event.detail.type === "count-waiting") {
      var count = parseInt(event.detail.data, 10);
      var badge = document.getElementById("count-waiting");
      if (badge) badge.classList.toggle("hot", count > 0);
      if (!isNaN(count)) alertWaiting(count);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("notify-on");
    if (button && window.Notification && Notification.permission === "default") {
      button.hidden = false;
      button.addEventListener("click", function () {
        Notification.requestPermission().then(function () { button.hidden = true; });
      });
    }
  });
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

  // Inserting into the reply box: a suggested article (one click), or a canned response typed as /shortcut.
  function replyBox() { return document.querySelector("textarea[data-canned]"); }
  function insert(text, replacing) {
    var box = replyBox();
    if (!box) return;
    var before = box.value.slice(0, box.selectionStart), after = box.value.slice(box.selectionEnd);
    if (replacing) before = before.slice(0, before.length - replacing.length);
    var joined = before && !/\s$/.test(before) ? before + " " : before;
    box.value = joined + text + after;
    box.focus();
    box.selectionStart = box.selectionEnd = (joined + text).length;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-insert]");
    if (button) insert(button.dataset.insert);
  });

  var menu = null, choices = [], chosen = 0, typed = "";
  function cannedList(box) {
    var data = document.querySelector(box.dataset.canned);
    try { return data ? JSON.parse(data.textContent) : []; } catch (e) { return []; }
  }
  function closeMenu() { if (menu) menu.hidden = true; choices = []; }
  function showMenu(box) {
    menu = document.getElementById("canned-menu");
    var match = /(^|\s)(\/[a-z0-9-]*)$/.exec(box.value.slice(0, box.selectionStart));
    if (!menu || !match) return closeMenu();
    typed = match[2];
    var word = typed.slice(1);
    choices = cannedList(box).filter(function (c) {
      return c.shortcut.indexOf(word) === 0 || c.title.toLowerCase().indexOf(word) >= 0;
    }).slice(0, 8);
    if (!choices.length) return closeMenu();
    chosen = Math.min(chosen, choices.length - 1);
    menu.replaceChildren();
    choices.forEach(function (c, i) {
      var item = document.createElement("div");
      item.className = "canned-choice" + (i === chosen ? " chosen" : "");
      item.setAttribute("role", "option");
      item.dataset.shortcut = c.shortcut;
      var name = document.createElement("b"); name.textContent = "/" + c.shortcut;
      var title = document.createElement("span"); title.textContent = " " + c.title;
      var text = document.createElement("div"); text.className = "muted"; text.textContent = c.text;
      item.append(name, title, text);
      item.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      menu.appendChild(item);
    });
    menu.hidden = false;
  }
  function pick(i) {
    var choice = choices[i];
    closeMenu();
    if (choice) insert(choice.text, typed);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-canned]")) { chosen = 0; showMenu(event.target); }
  });
  document.addEventListener("keydown", function (event) {
    if (!choices.length || !(event.target.matches && event.target.matches("textarea[data-canned]"))) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
      showMenu(event.target);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopImmediatePropagation();
      pick(chosen);
    } else if (event.key === "Escape") {
      closeMenu();
    }
  }, true);
})();
