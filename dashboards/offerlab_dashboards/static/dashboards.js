// Draws every chart whose spec the server embedded as <script type="application/json" data-chart>.
// Specs are plain data; this file adds the formatter functions that JSON cannot carry.
(function () {
  "use strict";

  const HOUR = 3600 * 1000;

  // Shorter time spans need finer labels: a demo bandit re-weights every few seconds.
  function timeParts(span) {
    if (span < 2 * HOUR) return { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    if (span < 48 * HOUR) return { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return { month: "short", day: "numeric" };
  }

  function signed(value, decimals) {
    const number = Number(value);
    const text = number.toFixed(decimals);
    return number > 0 && Number(text) !== 0 ? `+${text}` : text;
  }

  const formatters = {
    percent: (value) => `${Number(value).toFixed(1)}%`,
    signed_percent: (value) => `${signed(value, 1)}%`,
    signed_points: (value) => `${signed(value, 1)} pp`,
    signed_money: (value) => signed(value, 2),
    signed_number: (value) => signed(value, 3),
    count: (value) => Number(value).toLocaleString("en-US"),
    datetime: (value, span) => new Date(value).toLocaleString(undefined, timeParts(span)),
  };

  function formatterFor(spec, axis) {
    const name = (spec.axis_formats || {})[axis];
    return formatters[name] || ((value) => String(value));
  }

  function spanOf(scale) {
    return scale ? scale.max - scale.min : 0;
  }

  function applyTickFormats(spec) {
    const scales = (spec.config.options.scales = spec.config.options.scales || {});
    for (const axis of Object.keys(spec.axis_formats || {})) {
      const scale = (scales[axis] = scales[axis] || {});
      const format = formatterFor(spec, axis);
      scale.ticks = Object.assign({}, scale.ticks, {
        callback: function (value) {
          return format(value, spanOf(this));
        },
      });
    }
  }

  function tooltipLabel(spec) {
    const format = formatterFor(spec, spec.value_axis);
    return (context) => {
      const label = context.dataset.label || "";
      const raw = context.raw;
      if (Array.isArray(raw)) return `${label}: ${format(raw[0])} – ${format(raw[1])}`;
      return `${label}: ${format(context.parsed[spec.value_axis])}`;
    };
  }

  function tooltipTitle(spec) {
    const indexAxis = spec.value_axis === "x" ? "y" : "x";
    const named = (spec.axis_formats || {})[indexAxis];
    if (!named) return undefined;
    const format = formatterFor(spec, indexAxis);
    return (items) => {
      if (!items.length) return "";
      const scale = items[0].chart.scales[indexAxis];
      return format(items[0].parsed[indexAxis], spanOf(scale));
    };
  }

  // Interval edges ("band": true) are drawn as a shaded area, not listed as series.
  function isBand(datasets, index) {
    return Boolean(datasets[index] && datasets[index].band);
  }

  function applyTooltips(spec) {
    const plugins = (spec.config.options.plugins = spec.config.options.plugins || {});
    const callbacks = { label: tooltipLabel(spec) };
    const title = tooltipTitle(spec);
    if (title) callbacks.title = title;
    plugins.tooltip = Object.assign({}, plugins.tooltip, {
      callbacks: callbacks,
      filter: (item) => !isBand(item.chart.data.datasets, item.datasetIndex),
    });
  }

  function applyLegendFilter(spec) {
    const plugins = (spec.config.options.plugins = spec.config.options.plugins || {});
    const legend = (plugins.legend = plugins.legend || {});
    legend.labels = Object.assign({}, legend.labels, {
      filter: (item, data) => !isBand(data.datasets, item.datasetIndex),
    });
  }

  function drawChart(element) {
    const canvas = document.getElementById(element.dataset.chart);
    if (!canvas) {
      console.error(`offerlab: no canvas #${element.dataset.chart} for chart data`);
      return;
    }
    const spec = JSON.parse(element.textContent);
    applyTickFormats(spec);
    applyTooltips(spec);
    applyLegendFilter(spec);
    new window.Chart(canvas, spec.config);
  }

  function drawAll() {
    if (typeof window.Chart !== "function") {
      console.error("offerlab: the chart library did not load");
      return;
    }
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(drawChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
