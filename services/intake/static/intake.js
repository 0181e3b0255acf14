// Intake's pages: a form marked data-warn-unsaved asks before the page is left with answers typed in it but not
// saved, also when another form of the same page is sent (the case page has several).
document.addEventListener("DOMContentLoaded", function () {
  var unsaved = new Set();
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    form.addEventListener("input", function () { unsaved.add(form); });
    form.addEventListener("change", function () { unsaved.add(form); });
  });
  document.addEventListener("submit", function (event) { unsaved.delete(event.target); });
  window.addEventListener("beforeunload", function (event) {
    if (unsaved.size) { event.preventDefault(); event.returnValue = ""; }
  });
});
