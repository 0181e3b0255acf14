// Move focus to the error summary so keyboard and screen-reader users hear the problems first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
});
