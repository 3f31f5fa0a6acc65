// Aftercare's own few lines of script; every page works without them.
// A button marked data-print prints the page (the return slip).
document.addEventListener("click", function (e) {
  var b = e.target.closest && e.target.closest("[data-print]");
  if (b) { window.print(); }
});
