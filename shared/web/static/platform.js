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
});
