// bantin web console: progressive enhancement only (pages work without it).
// Served from /admin/static under a CSP without inline scripts: no eval, no inline handlers.
(function () {
  "use strict";

  function startProgress(section) {
    var url = section.getAttribute("data-events");
    if (!url || !window.EventSource) return;
    var bar = document.getElementById("bc-progress");
    var source = new EventSource(url);
    source.addEventListener("progress", function (event) {
      var data = JSON.parse(event.data);
      section.querySelectorAll("[data-field]").forEach(function (el) {
        var value = data[el.getAttribute("data-field")];
        el.textContent = value === null || value === undefined ? "—" : String(value);
      });
      if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
      if (data.done) {
        source.close();
        var done = document.getElementById("bc-done");
        if (done) done.hidden = false;
        var cancel = document.getElementById("cancel-form");
        if (cancel) cancel.hidden = true;
        section.setAttribute("data-done", "1");
      }
    });
    source.onerror = function () { /* the browser reconnects by itself */ };
  }

  var COLORS = ["#1f6feb", "#2da44e", "#d29922", "#cf222e", "#8250df", "#57606a"];

  function drawChart(el) {
    if (!window.uPlot) return;
    var block = document.getElementById(el.getAttribute("data-chart"));
    if (!block) return;
    var data = JSON.parse(block.textContent);
    if (!data.days.length || !Object.keys(data.series).length) return;
    var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    var keys = Object.keys(data.series);
    var series = [{}].concat(keys.map(function (k, i) {
      return { label: k, stroke: COLORS[i % COLORS.length], width: 2 };
    }));
    var width = Math.max(280, Math.min(el.clientWidth || 600, 900));
    new window.uPlot({ width: width, height: 220, series: series, scales: { x: { time: true } } },
      [xs].concat(keys.map(function (k) { return data.series[k]; })), el);
  }

  // A canned answer picked from the list fills the answer box (staff may edit it before sending).
  function cannedFill(select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var box = document.getElementById(select.getAttribute("data-fill"));
      if (box && option && option.getAttribute("data-text") !== null) {
        box.value = option.getAttribute("data-text");
      }
    });
  }

  function ready() {
    document.querySelectorAll("select[data-fill]").forEach(cannedFill);
    var section = document.getElementById("progress");
    if (section) startProgress(section);
    document.querySelectorAll("[data-chart]").forEach(drawChart);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
