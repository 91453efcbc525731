// Draw every [data-chart] element with the locally served plotly.js. The figure (built in
// Python, loyalty_site/charts.py) is in the <script type="application/json"> whose id the
// element names.
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var source = document.getElementById(element.getAttribute("data-chart"));
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, {
      displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"]
    });
  });
})();
