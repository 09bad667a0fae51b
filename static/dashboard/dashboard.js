/* The dashboard pages' charts (apps/analytics/dashboard/charts.py): NVD3 on the vendored D3, from the JSON
   the page carries in <script id="dashboard-charts">. Line or grouped-bar charts of time series. */
(function () {
  "use strict";

  function draw(spec) {
    nv.addGraph(function () {
      var chart = spec.kind === "bar"
        ? nv.models.multiBarChart().reduceXTicks(true).showControls(false)
        : nv.models.lineChart().useInteractiveGuideline(true);
      chart.margin({top: 20, right: 40, bottom: 40, left: 70});
      var xFormat = d3.time.format.utc(spec.x_format);
      chart.xAxis.tickFormat(function (d) { return xFormat(new Date(d)); });
      chart.yAxis.tickFormat(d3.format(spec.y_format));
      d3.select("#" + spec.id + " svg").datum(spec.series).call(chart);
      nv.utils.windowResize(chart.update);
      return chart;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("dashboard-charts");
    if (data) {
      JSON.parse(data.textContent).forEach(draw);
    }
  });
})();
