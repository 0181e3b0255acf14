// Every page of every service (shared/web/templates/base.html): progressive enhancement only; the pages work without it.
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the error summary so keyboard and screen-reader users hear the problems first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // A message after a success (role="status") is in the page when it loads, where a screen reader may not
  // announce it and a long page may leave it off-screen: move focus to it, which reads it and shows it.
  var status = document.querySelector("main [role=status][tabindex]");
  if (status && !summary) {
    status.focus();
    status.scrollIntoView({block: "center"});
  }

  // On a phone a responsive table's rows stack and its header row is hidden (nav.css): give every cell its
  // column's name, which the stylesheet shows in front of the value ("Minutter: 15", not a bare "15").
  document.querySelectorAll("table.responsive").forEach(function (table) {
    var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.cells, function (cell, index) {
        if (cell.colSpan === 1 && names[index]) { cell.setAttribute("data-label", names[index]); }
      });
    });
  });

  focusScrollingTables();
  document.addEventListener("toggle", focusScrollingTables, true);  // a <details> opened: its tables are seen now

  setTimeout(fillKeptForm, 0);  // after the page's own scripts have set up, so they see the answers come in
  warnBeforeTimeout();
});

// A table wider than its box scrolls inside it (.table-wrap); a keyboard user must be able to reach it to scroll it
// (WCAG 2.1.1, axe's scrollable-region-focusable): such a box becomes a tab stop named by the table's caption.
function focusScrollingTables() {
  document.querySelectorAll(".table-wrap").forEach(function (wrap, index) {
    // Inside a closed <details> nothing is shown, yet Chromium still measures it: such a box waits for its opening.
    if (wrap.closest("details:not([open])") || wrap.hasAttribute("tabindex")) { return; }
    if (wrap.scrollWidth <= wrap.clientWidth + 1) { return; }
    wrap.setAttribute("tabindex", "0");
    wrap.setAttribute("role", "region");
    var caption = wrap.querySelector("caption");
    if (caption) {
      caption.id = caption.id || "tabell-" + index;
      wrap.setAttribute("aria-labelledby", caption.id);
    }
  });
}

// A form sent after the session ended was kept on the server (shared.web.keeping) and is in this page again, for
// the person who sent it: fill its answers into the same form for them to check and send once more. The hidden
// fields stay as this page made them (a fresh form token, the case version shown now).
function fillKeptForm() {
  var data = document.getElementById("tatt-vare-data");
  if (!data) { return; }
  var kept = JSON.parse(data.textContent);
  // Attributes, not the form's properties: a field named "method" or "action" would stand in for those.
  var form = Array.prototype.find.call(document.forms, function (candidate) {
    return (candidate.getAttribute("method") || "").toLowerCase() === "post" &&
      new URL(candidate.getAttribute("action") || "", location.href).pathname === kept.action;
  });
  if (!form) { return; }
  var values = {};
  kept.fields.forEach(function (pair) { (values[pair[0]] = values[pair[0]] || []).push(pair[1]); });
  var taken = {};
  Array.prototype.forEach.call(form.elements, function (element) {
    var name = element.name, type = (element.type || "").toLowerCase();
    if (!name || type === "hidden" || type === "submit" || type === "button" || element.tagName === "BUTTON") { return; }
    if (type === "file") {
      if (kept.files.indexOf(name) !== -1) {
        var hint = document.createElement("p");
        hint.className = "kept-file-hint";
        hint.textContent = data.getAttribute("data-file-hint");
        element.insertAdjacentElement("afterend", hint);
      }
      return;
    }
    var sent = values[name] || [];
    if (type === "checkbox" || type === "radio") {
      element.checked = sent.indexOf(element.value) !== -1;
    } else if (element.tagName === "SELECT" && element.multiple) {
      Array.prototype.forEach.call(element.options, function (option) { option.selected = sent.indexOf(option.value) !== -1; });
    } else {
      var index = taken[name] || 0;
      if (index >= sent.length) { return; }
      element.value = sent[index];
      taken[name] = index + 1;
    }
    // As if typed: the page's own scripts (a warning before leaving unsaved answers) see the change.
    element.dispatchEvent(new Event("input", {bubbles: true}));
    element.dispatchEvent(new Event("change", {bubbles: true}));
  });
}

// WCAG 2.2.1: a few minutes before the idle timeout, a dialog offers to extend the session ("Forleng" asks the
// service to renew the session cookie). Focus moves into the dialog and back to where it was.
function warnBeforeTimeout() {
  var dialog = document.getElementById("okt-varsel");
  if (!dialog || typeof dialog.showModal !== "function") { return; }
  var text = document.getElementById("okt-varsel-tekst");
  var extend = document.getElementById("okt-forleng");
  var close = document.getElementById("okt-lukk");
  var timers = [], endsAt = 0, returnTo = null;

  function clockTime(at) {
    return new Date(at).toLocaleTimeString(document.documentElement.lang || "nb", {hour: "2-digit", minute: "2-digit"});
  }
  function show(kind) {
    var template = text.getAttribute("data-" + kind + "-text");
    text.textContent = template.replace("{tid}", clockTime(endsAt));
    extend.hidden = kind !== "extendable";
    extend.style.display = extend.hidden ? "none" : "";  // Aksel's button style would outrank [hidden]
    if (!dialog.open) {
      returnTo = document.activeElement;
      dialog.showModal();
    }
    (extend.hidden ? close : extend).focus();
  }
  function hide() {
    if (dialog.open) { dialog.close(); }
  }
  function schedule(secondsLeft, warnBefore, extendable) {
    timers.forEach(clearTimeout);
    endsAt = Date.now() + secondsLeft * 1000;
    timers = [
      setTimeout(function () { show(extendable ? "extendable" : "final"); },
                 Math.max(0, secondsLeft - warnBefore) * 1000),
      setTimeout(function () { show("ended"); }, secondsLeft * 1000)
    ];
  }
  dialog.addEventListener("close", function () {
    if (returnTo && typeof returnTo.focus === "function") { returnTo.focus(); }
  });
  close.addEventListener("click", hide);
  extend.addEventListener("click", function () {
    extend.disabled = true;
    fetch(dialog.getAttribute("data-extend-url"), {
      method: "POST", credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": dialog.getAttribute("data-csrf")}
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (timing) {
      hide();
      schedule(timing.seconds_left, timing.warn_before, timing.extendable);
    }).catch(function () {
      show("failed");
    }).then(function () { extend.disabled = false; });
  });
  schedule(Number(dialog.getAttribute("data-seconds-left")), Number(dialog.getAttribute("data-warn-before")),
           dialog.getAttribute("data-extendable") === "true");
}
