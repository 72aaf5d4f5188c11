/* Kundresa's charts: every page embeds its data (the same JSON as its /api twin) in
   #page-data; each element with data-chart is drawn from it with the vendored ECharts.

   Escaping by construction: chart labels are drawn as SVG text (never HTML), and every
   tooltip is made by a formatter that returns plain text, escaped once by esc() in make()
   before ECharts puts it into the page. No other code here writes HTML: the rest uses
   textContent. Writes (fetch) carry the session's anti-forgery token (X-Kundresa-CSRF). */
(function () {
  "use strict";
  var dataEl = document.getElementById("page-data");
  var textEl = document.getElementById("page-text");
  var data = dataEl ? JSON.parse(dataEl.textContent) : null;
  var text = textEl ? JSON.parse(textEl.textContent) : {};
  var palette = ["#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f59f00", "#0ca678", "#d6336c", "#5c7cfa", "#868e96"];
  var charts = [];

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  /* The one place where text becomes HTML. */
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"'`=\/]/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }
  /* Plain-text tooltip lines for ECharts' params (one item, or the list of an axis). */
  function tipText(params, valueFormatter) {
    var list = Array.isArray(params) ? params : [params];
    var fmt = valueFormatter || function (v) { return typeof v === "number" ? num(v) : v; };
    var lines = [];
    if (Array.isArray(params) && list.length) lines.push(list[0].axisValueLabel != null ? list[0].axisValueLabel : list[0].name);
    list.forEach(function (p) {
      var v = p.value;
      if (Array.isArray(v)) v = v[v.length - 1];
      if (p.dataType === "edge" && p.data) {
        lines.push(p.data.source + " → " + p.data.target + ": " + fmt(v));
        return;
      }
      var who = Array.isArray(params) ? p.seriesName : (p.name || p.seriesName);
      lines.push((who != null && who !== "" ? who + ": " : "") + (v == null ? "–" : fmt(v)));
    });
    return lines.join("\n");
  }
  /* A tooltip option whose formatter returns escaped HTML made from plain text. */
  function safeTooltip(tooltip) {
    tooltip = tooltip || {};
    var own = tooltip.formatter, vf = tooltip.valueFormatter;
    tooltip.formatter = function (params) {
      var text = typeof own === "function" ? own(params) : tipText(params, vf);
      return esc(text).replace(/\n/g, "<br>");
    };
    delete tooltip.valueFormatter;
    tooltip.confine = true;
    return tooltip;
  }

  // Numbers in the page's language, as the tables (kundresa.report.units, CLDR) write them.
  var pageLang = document.documentElement.lang || "en";
  var pctFormat = new Intl.NumberFormat(pageLang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var numFormat = new Intl.NumberFormat(pageLang, { maximumFractionDigits: 2 });
  function pct(v) { return v == null ? "–" : pctFormat.format(v); }
  function num(v) { return v == null ? "–" : numFormat.format(Number(v)); }
  function duration(s) {
    if (s == null) return "∞";
    if (s < 60) return s + "s";
    if (s < 3600) return Math.round(s / 60) + "m";
    if (s < 86400) return Math.round(s / 3600) + "h";
    return Math.round(s / 86400) + "d";
  }
  function make(el, option) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    option.color = option.color || palette;
    option.textStyle = { fontFamily: "system-ui, sans-serif" };
    option.animation = false;  // numbers, not motion: the chart is complete when the page is
    if (option.tooltip) option.tooltip = safeTooltip(option.tooltip);
    (option.series || []).forEach(function (s) { if (s.tooltip && s.tooltip.show !== false) s.tooltip = safeTooltip(s.tooltip); });
    chart.setOption(option);
    charts.push(chart);
    return chart;
  }
  var small = window.matchMedia("(max-width: 760px)").matches;

  var draw = {
    "circle": function (el) {
      var stages = data.stages, n = stages.length, r = 150;
      var nodes = stages.map(function (s, i) {
        var a = -Math.PI / 2 + (2 * Math.PI * i) / n;
        return { name: s.label, x: r * Math.cos(a), y: r * Math.sin(a), value: s.reached,
          symbolSize: 46 + 40 * (s.reached / Math.max(1, stages[0].reached)),
          itemStyle: { color: s.biggest_loss ? "#c62828" : palette[0] },
          label: { show: true, formatter: function () { return s.label + "\n" + num(s.reached); }, position: Math.cos(a) < -0.3 ? "left" : (Math.cos(a) > 0.3 ? "right" : (Math.sin(a) < 0 ? "top" : "bottom")),
            backgroundColor: "rgba(255,255,255,.85)", padding: [2, 4], borderRadius: 3, color: "#1d2430", fontWeight: 600, distance: 8 } };
      });
      var links = stages.map(function (s, i) {
        var next = stages[(i + 1) % n];
        return { source: s.label, target: next.label, label: { show: i + 1 < n, formatter: pct(next.conversion_from_previous) } };
      });
      make(el, { tooltip: {}, series: [{ type: "graph", layout: "none", data: nodes, links: links, width: 300, height: 300, left: "center", top: "middle",
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 12, lineStyle: { width: 3, curveness: 0.25, color: "#8aa4c8" },
        edgeLabel: { show: true, fontSize: 12, color: "#33404f" } }] });
    },
    "emotions": function (el) {
      var labels = data.stages.map(function (s) { return s.label; });
      var names = {}; data.personas.forEach(function (p) { names[p.id] = p.name; });
      var series = Object.keys(data.emotions).map(function (pid) {
        return { name: names[pid] || pid, type: "line", smooth: false, data: data.emotions[pid], symbolSize: 9, connectNulls: true };
      });
      // Measured by surveys (journey file `surveys:`): dashed, each point labelled with its score.
      (data.measured_emotions || []).forEach(function (m) {
        series.push({ name: m.name, type: "line", smooth: false, symbol: "diamond", symbolSize: 9, connectNulls: true, lineStyle: { type: "dashed" },
          data: m.values.map(function (v, i) {
            if (v == null) return null;
            var s = m.scores[i], shown = m.metric === "nps" ? "NPS " + Math.round(s) : s.toFixed(1);
            return { value: v, label: { show: true, formatter: shown + " (n=" + num(m.responses[i]) + ")" } };
          }) });
      });
      make(el, { tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" }, grid: { left: 30, right: 20, top: 28, bottom: 22 },
        xAxis: { type: "category", data: labels, boundaryGap: true },
        yAxis: { type: "value", min: -2, max: 2, interval: 1, axisLabel: { formatter: function (v) { return ["☹", "", "😐", "", "☺"][v + 2] || ""; } } },
        series: series });
    },
    "stage-funnel": function (el) {
      make(el, { tooltip: { formatter: function (p) { return p.name + ": " + num(p.value); } },
        series: [{ type: "funnel", sort: "none", left: "5%", width: "90%", minSize: "8%", gap: 2,
          label: { position: "inside", formatter: function (p) { return p.name + "  " + num(p.value); }, color: "#fff", fontWeight: 600, textBorderColor: "rgba(0,0,0,.35)", textBorderWidth: 2 },
          data: data.stages.map(function (s) { return { name: s.label, value: s.reached }; }) }] });
    },
    "event-funnel": function (el) {
      var rows = data.funnel, segs = [];
      rows.forEach(function (r) { var s = r.segment == null ? "" : String(r.segment); if (segs.indexOf(s) < 0) segs.push(s); });
      var steps = data.steps.map(function (s, i) { return (i + 1) + ". " + s; });
      var series = segs.map(function (seg) {
        return { name: seg || text.customers, type: "bar", data: steps.map(function (_, i) {
          var r = rows.filter(function (x) { return x.step === i + 1 && (x.segment == null ? "" : String(x.segment)) === seg; })[0];
          return r ? r.count : 0; }), label: { show: segs.length === 1, position: "top", formatter: function (p) { return num(p.value); } } };
      });
      var c = make(el, { tooltip: { trigger: "axis" }, legend: { show: segs.length > 1, top: 0 }, grid: { left: 60, right: 10, top: 30, bottom: 60 },
        xAxis: { type: "category", data: steps, axisLabel: { interval: 0, rotate: small ? 30 : 0, width: 110, overflow: "truncate" } },
        yAxis: { type: "value" }, series: series });
      c.on("click", function (p) { showStep(p.dataIndex + 1); });
    },
    "ttc": function (el) {
      var rows = data.time_to_convert, bins = [], stepsSeen = [];
      rows.forEach(function (r) {
        var b = duration(r.bin_start) + "–" + duration(r.bin_end);
        if (bins.indexOf(b) < 0) bins.push(b);
        if (stepsSeen.indexOf(r.step) < 0) stepsSeen.push(r.step);
      });
      var series = stepsSeen.map(function (st) {
        return { name: st + ". " + data.steps[st - 1], type: "bar", data: rows.filter(function (r) { return r.step === st; }).map(function (r) { return r.customers; }) };
      });
      make(el, { tooltip: { trigger: "axis" }, legend: { top: 0, type: "scroll" }, grid: { left: 50, right: 10, top: 40, bottom: 40 },
        xAxis: { type: "category", data: bins, name: "", axisLabel: { rotate: small ? 40 : 0 } }, yAxis: { type: "value" }, series: series });
    },
    "trend": function (el) {
      var rows = data.trend;
      make(el, { tooltip: { trigger: "axis", valueFormatter: pct }, grid: { left: 55, right: 15, top: 20, bottom: 40 },
        xAxis: { type: "category", data: rows.map(function (r) { return String(r.period).slice(0, 10); }) },
        yAxis: { type: "value", axisLabel: { formatter: pct } },
        series: [{ name: text.conversion, type: "line", smooth: false, showSymbol: rows.length < 40, areaStyle: { opacity: 0.12 }, data: rows.map(function (r) { return r.conversion; }) }] });
    },
    "sankey": function (el) {
      var names = {}, nodes = [], links = [];
      data.links.forEach(function (l) {
        if (l.target === "(end)") return;  // a path that stops simply ends its band
        var s = l.source_step + ". " + l.source, t = l.target_step + ". " + l.target;
        [s, t].forEach(function (n) { if (!names[n]) { names[n] = 1; nodes.push({ name: n }); } });
        links.push({ source: s, target: t, value: l.count });
      });
      links.sort(function (a, b) { return b.value - a.value; });
      links = links.slice(0, 80);
      var used = {}; links.forEach(function (l) { used[l.source] = used[l.target] = 1; });
      make(el, { tooltip: { trigger: "item" }, series: [{ type: "sankey", left: 10, right: small ? 70 : 120, nodeGap: 6, layoutIterations: 64, nodeAlign: "justify", emphasis: { focus: "adjacency" },
        data: nodes.filter(function (n) { return used[n.name]; }), links: links, lineStyle: { color: "gradient", opacity: 0.35 },
        label: { fontSize: 11 } }] });
    },
    "dfg": function (el) {
      var edges = data.dfg.slice().sort(function (a, b) { return b.count - a.count; }).slice(0, 40);
      var max = Math.max.apply(null, edges.map(function (e) { return e.count; }).concat([1]));
      var seen = {}, nodes = [];
      edges.forEach(function (e) { [e.source, e.target].forEach(function (n) { if (!seen[n]) { seen[n] = 0; nodes.push(n); } seen[n] += e.count; }); });
      make(el, { tooltip: {}, series: [{ type: "graph", layout: "circular", circular: { rotateLabel: true }, roam: true, top: 60, bottom: 60, left: 120, right: 120,
        label: { show: true, position: "right", fontSize: 11, color: "#33404f" },
        data: nodes.map(function (n) { return { name: n, symbolSize: 10 + 26 * Math.sqrt(seen[n] / (2 * max)) }; }),
        links: edges.filter(function (e) { return e.source !== e.target; }).map(function (e) {
          return { source: e.source, target: e.target, value: e.count, lineStyle: { width: 1 + 7 * e.count / max, curveness: 0.2, opacity: 0.6 } }; }),
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 8, lineStyle: { color: "source" } }] });
    },
    "heatmap": function (el) {
      var rows = data.retention, cohorts = [], periods = [];
      rows.forEach(function (r) { var c = String(r.cohort).slice(0, 10); if (cohorts.indexOf(c) < 0) cohorts.push(c); if (periods.indexOf(r.period) < 0) periods.push(r.period); });
      periods.sort(function (a, b) { return a - b; });
      var values = rows.map(function (r) { return [periods.indexOf(r.period), cohorts.indexOf(String(r.cohort).slice(0, 10)), r.rate == null ? null : Math.round(r.rate * 1000) / 10]; });
      el.style.height = Math.max(300, 22 * cohorts.length + 120) + "px";
      make(el, { tooltip: { formatter: function (p) { return text.cohort + " " + cohorts[p.value[1]] + ", " + text.period + " " + periods[p.value[0]] + ": " + p.value[2] + "%"; } },
        grid: { left: 90, right: 20, top: 10, bottom: 85 },
        xAxis: { type: "category", data: periods, name: text.period, nameLocation: "middle", nameGap: 25 },
        yAxis: { type: "category", data: cohorts, inverse: true },
        visualMap: { min: 0, max: 100, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, inRange: { color: ["#f7fbff", "#9ecae1", "#08519c"] }, text: ["100%", "0%"] },
        series: [{ type: "heatmap", data: values, label: { show: !small && periods.length <= 16 && cohorts.length <= 60, fontSize: 10, formatter: function (p) { return p.value[2] == null ? "" : Math.round(p.value[2]); } } }] });
    },
    "lifecycle": function (el) {
      var rows = data.lifecycle, x = rows.map(function (r) { return String(r.period).slice(0, 10); });
      var kinds = [["new", "#2f9e44", 1], ["returning", "#1f6feb", 1], ["resurrecting", "#f59f00", 1], ["dormant", "#c62828", -1]];
      make(el, { tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 50, right: 10, top: 30, bottom: 30 },
        xAxis: { type: "category", data: x }, yAxis: { type: "value" },
        series: kinds.map(function (k) { return { name: k[0], type: "bar", stack: "all", itemStyle: { color: k[1] },
          data: rows.map(function (r) { return r[k[0]] == null ? 0 : k[2] * r[k[0]]; }) }; }) });
    },
    "compare": function (el) {
      var rows = data.comparison; if (!rows.length) return;
      var a = rows[0].segment_a, b = rows[0].segment_b, labels = rows.map(function (r) { return r.label || r.stage || r.event || r.step; });
      function ser(side, color) {
        return [{ name: side === "a" ? a : b, type: "bar", itemStyle: { color: color }, data: rows.map(function (r) { return r["rate_" + side]; }) },
          { type: "custom", name: (side === "a" ? a : b) + " CI", renderItem: function (params, api) {
              var xi = api.value(0), lo = api.coord([xi, api.value(1)]), hi = api.coord([xi, api.value(2)]);
              var off = (side === "a" ? -1 : 1) * api.size([1, 0])[0] * 0.18;
              return { type: "line", shape: { x1: lo[0] + off, y1: lo[1], x2: hi[0] + off, y2: hi[1] }, style: { stroke: "#222", lineWidth: 1.5 } };
            }, data: rows.map(function (r, i) { return [i, r["ci_low_" + side], r["ci_high_" + side]]; }), tooltip: { show: false } }];
      }
      make(el, { tooltip: { trigger: "axis", valueFormatter: pct }, legend: { top: 0, data: [a, b] }, grid: { left: 55, right: 10, top: 30, bottom: 40 },
        xAxis: { type: "category", data: labels }, yAxis: { type: "value", max: 1, axisLabel: { formatter: pct } },
        series: ser("a", "#1f6feb").concat(ser("b", "#e8590c")) });
    },
    "attribution": function (el) {
      var rows = data.models; if (!rows.length) return;
      var models = Object.keys(rows[0]).filter(function (k) { return /_share$/.test(k); });
      make(el, { tooltip: { trigger: "axis", valueFormatter: pct }, legend: { top: 0, type: "scroll" }, grid: { left: 55, right: 10, top: 30, bottom: 40 },
        xAxis: { type: "category", data: rows.map(function (r) { return r.channel; }), axisLabel: { interval: 0, rotate: small ? 40 : 0 } },
        yAxis: { type: "value", axisLabel: { formatter: pct } },
        series: models.map(function (m) { var key = m.replace(/_share$/, ""); return { name: (text.models || {})[key] || key, type: "bar", data: rows.map(function (r) { return r[m]; }) }; }) });
    },
    "visits": function (el) {
      var rows = data.visits; if (!rows.length) return;
      var stages = []; rows.forEach(function (v) { stages[v.stage_index - 1] = v.label; });
      for (var i = 0; i < stages.length; i++) if (stages[i] == null) stages[i] = "";
      make(el, { tooltip: { trigger: "item", formatter: function (p) { return String(p.value[0]).replace("T", " ").replace(".000Z", "") + ": " + p.value[1]; } },
        grid: { left: 110, right: 20, top: 10, bottom: 30 }, xAxis: { type: "time" },
        yAxis: { type: "category", data: stages },
        series: [{ type: "line", step: "start", symbolSize: 9, data: rows.map(function (v) { return [v.entered_at.replace(" ", "T") + "Z", v.label]; }) }] });
    }
  };

  function showStep(step) {
    var box = document.getElementById("step-customers");
    if (!box) return;
    var params = new URLSearchParams(window.location.search);
    params.set("step", step); params.delete("lang"); params.delete("by"); params.delete("period");
    fetch("/api/funnel/customers?" + params.toString(), { credentials: "same-origin", headers: { "X-Kundresa-CSRF": csrf } })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        box.hidden = false;
        box.querySelector(".which").textContent = step + ". " + (data.steps[step - 1] || "");
        box.querySelector(".total").textContent = res.total != null ? num(res.total) + " " + text.customers.toLowerCase() : (res.detail || "");
        var ul = box.querySelector("ul");
        ul.textContent = "";
        (res.customers || []).forEach(function (c) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = "/customer?id=" + encodeURIComponent(c.customer_id);
          a.textContent = c.customer_id;
          li.appendChild(a); ul.appendChild(li);
        });
      });
  }

  /* The data page: an upload's ingest runs as a job; show its progress until it is over. */
  function watchJob() {
    var box = document.getElementById("upload-job");
    if (!box) return;
    var id = box.getAttribute("data-job"), bar = document.getElementById("upload-progress");
    var form = document.getElementById("cancel-form");
    if (form) form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      fetch("/api/jobs/" + encodeURIComponent(id) + "/cancel", { method: "POST", credentials: "same-origin", headers: { "X-Kundresa-CSRF": csrf } });
    });
    function poll() {
      fetch("/api/jobs/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar && job.progress != null) { bar.value = job.progress; bar.textContent = Math.round(job.progress * 100) + "%"; }
          if (job.state === "done" || job.state === "failed" || job.state === "cancelled") {
            window.location.replace("/data?job=" + encodeURIComponent(id));
          } else {
            window.setTimeout(poll, 400);
          }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    poll();
  }

  /* The map's numbers follow new events (an upload, the collector, `kundresa demo --live`):
     every data-refresh seconds, and on the refresh button, /api/map is read again with the
     page's own parameters and each number is written into its cell (textContent only). */
  function setNumber(el, value, format) {
    if (!el) return;
    el.setAttribute("data-value", value == null ? "" : value);
    el.textContent = format(value);
  }
  function refreshMap() {
    var table = document.getElementById("journey-map");
    if (!table) return;
    var params = new URLSearchParams(window.location.search);
    params.delete("view");
    return fetch("/api/map?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (map) {
        if (!map || !map.stages) return;
        map.stages.forEach(function (s) {
          var cell = table.querySelector('tr.numbers td[data-stage="' + CSS.escape(s.stage) + '"]');
          if (cell) {
            setNumber(cell.querySelector(".reached"), s.reached, num);
            setNumber(cell.querySelector(".entered"), s.entered, num);
            setNumber(cell.querySelector(".conversion"), s.conversion_from_previous, pct);
            setNumber(cell.querySelector(".dropped"), s.dropped, num);
          }
          (s.touchpoints || []).forEach(function (tp) {
            var li = table.querySelector('li[data-touchpoint="' + CSS.escape(tp.id) + '"]');
            if (!li) return;
            setNumber(li.querySelector(".customers"), tp.customers, num);
            setNumber(li.querySelector(".events"), tp.events, num);
          });
        });
        var stamp = document.getElementById("map-refreshed");
        if (stamp) stamp.textContent = new Date().toLocaleTimeString();
      })
      .catch(function () { /* the next refresh tries again */ });
  }
  function watchMap() {
    var button = document.getElementById("refresh-map");
    if (!button) return;
    button.addEventListener("click", function () { refreshMap(); });
    var every = parseInt(button.getAttribute("data-refresh") || "0", 10);
    if (every > 0) window.setInterval(function () {
      if (!document.hidden) refreshMap();
    }, every * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    watchJob();
    watchMap();
    if (!data || typeof echarts === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var f = draw[el.getAttribute("data-chart")];
      if (f) f(el);
    });
    var table = document.getElementById("event-funnel");
    if (table) {
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.addEventListener("click", function () {
          var cell = tr.querySelector("td:nth-child(" + (data.by ? 2 : 1) + ")");
          showStep(parseInt(cell.getAttribute("data-value"), 10));
        });
      });
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
