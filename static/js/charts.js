// Draws the charts of the team's pages with Chart.js (static/vendor). Each chart's data is in
// its element's data-chart attribute: {"type": "bar" | "line", "labels": [...],
// "datasets": [{"label": "...", "data": [...]}]}. The figures stay in the table beside the
// chart; once the chart is drawn, that table folds away under it.
(function () {
  "use strict";

  var COLOURS = ["#4f46e5", "#0e9384", "#dc6803", "#c11574", "#2e90fa", "#667085"];

  function draw(element) {
    var spec = JSON.parse(element.getAttribute("data-chart"));
    var canvas = document.createElement("canvas");
    element.appendChild(canvas);
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = COLOURS[index % COLOURS.length];
      return {
        label: dataset.label,
        data: dataset.data,
        backgroundColor: colour,
        borderColor: colour,
        spanGaps: true,
        tension: 0.25
      };
    });
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
    var figures = element.closest("figure").nextElementSibling;
    if (figures && figures.matches("details.chart-table")) {
      figures.open = false;
    }
    element.classList.add("chart-drawn");
  }

  function drawAll() {
    if (!window.Chart) {
      return; // the library did not load: the tables still hold the figures
    }
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
