window.addEventListener("load", function () {
  var count = 0;
  document.querySelectorAll("section.plots figure.plot > svg").forEach(function (svg) {
    if (svg.getBoundingClientRect().width > 0) { count += 1; }
  });
  document.body.dataset.plotsRendered = String(count);
});
