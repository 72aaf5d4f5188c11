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
  var idLabels = text.names || {};
  /* How a chart shows an id of a kind (stage, touchpoint, channel, persona): its label in
     the page's language (page-text's names); a path's (start) and (end) by their words;
     anything else as it is. The page data keeps the ids. */
  function shown(kind, id) {
    var s = String(id), ends = idLabels.ends || {}, own = idLabels[kind] || {};
    if (Object.prototype.hasOwnProperty.call(ends, s)) return ends[s];
    return Object.prototype.hasOwnProperty.call(own, s) ? own[s] : s;
  }
  /* An event-funnel step written stage:ID or touchpoint:ID by that label; an event as it is. */
  function stepName(step) {
    var s = String(step), i = s.indexOf(":"), kind = i > 0 ? s.slice(0, i) : "";
    return kind === "stage" || kind === "touchpoint" ? shown(kind, s.slice(i + 1)) : s;
  }
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

  /* Numbers and dates in the page's language, written as the tables write them: the symbols,
     the text around a percentage and the month names come from the server (page-text's
     "format", kundresa.report.units.chart_format: CLDR through Babel), so an axis reads
     "20 000" and "56,8 %" beside a Swedish table, never "20,000". */
  var F = text.format || { decimal: ".", group: ",", percent_prefix: "", percent_suffix: "%", pp: "pp",
    months: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], date: "MMM d, y" };
  function fixed(v, decimals) {
    var s = Math.abs(v).toFixed(decimals), parts = s.split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, F.group);
    return (v < 0 && Number(s) !== 0 ? "-" : "") + whole + (parts[1] ? F.decimal + parts[1] : "");
  }
  function pct(v) { return v == null ? "–" : F.percent_prefix + fixed(Number(v) * 100, 1) + F.percent_suffix; }
  function num(v) {
    if (v == null) return "–";
    v = Number(v);
    return Number.isInteger(v) ? fixed(v, 0) : fixed(v, Math.abs(v) >= 1e6 ? 0 : 2);
  }
  /* A day (ISO text or a time in ms) in the language's medium date pattern: "30 nov. 2026". */
  function day(v) {
    if (v == null) return "–";
    var m = typeof v === "number" ? null : /^(\d{4})-(\d{2})-(\d{2})/.exec(String(v));
    var y, mo, d;
    if (m) { y = +m[1]; mo = +m[2]; d = +m[3]; } else { var t = new Date(v); y = t.getUTCFullYear(); mo = t.getUTCMonth() + 1; d = t.getUTCDate(); }
    return F.date.replace(/'[^']*'|y+|M{3,}|M{1,2}|d{1,2}/g, function (tok) {
      if (tok[0] === "'") return tok.slice(1, -1);
      if (tok[0] === "y") return String(y);
      if (tok.length >= 3) return F.months[mo - 1];
      if (tok[0] === "M") return tok.length === 2 && mo < 10 ? "0" + mo : String(mo);
      return tok.length === 2 && d < 10 ? "0" + d : String(d);
    });
  }
  function duration(s) {
    if (s == null) return "∞";
    if (s < 60) return num(s) + " s";
    if (s < 3600) return num(Math.round(s / 60)) + " min";
    if (s < 86400) return num(Math.round(s / 3600)) + " h";
    return num(Math.round(s / 86400)) + " d";
  }
  /* Axis labels never overlap (ECharts hides the ones that would) and value axes write their
     numbers as the tables do, unless the chart says otherwise. */
  /* A time axis' tick: the day at midnight (UTC, as the data), else the time of day in the
     language's short pattern, so a span shorter than a few days reads "Nov 30, 2026, 6:00 AM,
     12:00 PM, 6:00 PM, Dec 1, 2026" (in Swedish "30 nov. 2026, 06:00, 12:00, …"); a span of
     seconds "12:32:10 PM, 12:32:20 PM, …". */
  function clock(v) {
    var t = new Date(v), h = t.getUTCHours(), m = t.getUTCMinutes();
    var sec = t.getUTCSeconds(), ms = t.getUTCMilliseconds();
    if (!h && !m && !sec && !ms) return day(v);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    var halves = F.am_pm || ["AM", "PM"];
    return (F.time || "HH:mm").replace(/'[^']*'|HH|H|hh|h|mm|a/g, function (tok) {
      if (tok[0] === "'") return tok.slice(1, -1);
      if (tok === "HH") return two(h);
      if (tok === "H") return String(h);
      if (tok === "hh") return two(h % 12 || 12);
      if (tok === "h") return String(h % 12 || 12);
      /* Ticks between whole minutes (a span of seconds) carry their seconds, and between
         whole seconds their milliseconds: ten ticks within a minute all read "12:32" else. */
      if (tok === "mm") return two(m) + (sec || ms ? ":" + two(sec) : "") + (ms ? "." + String(1000 + ms).slice(1) : "");
      return halves[h < 12 ? 0 : 1];
    });
  }
  function axes(list, kind) {
    (Array.isArray(list) ? list : list ? [list] : []).forEach(function (a) {
      a.axisLabel = a.axisLabel || {};
      a.axisLabel.hideOverlap = true;
      if (kind === "x" && a.axisLabel.margin == null) a.axisLabel.margin = 12;
      if (a.type === "value" && !a.axisLabel.formatter) a.axisLabel.formatter = function (v) { return num(v); };
      if (a.type === "time" && !a.axisLabel.formatter) a.axisLabel.formatter = clock;
    });
  }
  /* A legend that wraps onto as many lines as its names need (never a scrolling legend, whose
     hidden names would be clipped), and the room it takes at the top of the chart. */
  var measure = document.createElement("canvas").getContext("2d");
  function legendRows(names, width) {
    measure.font = "12px system-ui, sans-serif";
    var rows = 1, x = 0;
    names.forEach(function (n) {
      var w = measure.measureText(String(n)).width + 25 + 10;
      if (x > 0 && x + w > width - 20) { rows += 1; x = 0; }
      x += w;
    });
    return rows;
  }
  function legend(el, names, extra) {
    var rows = legendRows(names, el.clientWidth || 300);
    return { legend: Object.assign({ top: 0, left: "center", type: "plain", data: names, itemGap: 10 }, extra || {}), top: 8 + 22 * rows };
  }
  /* Category labels across when the longest fits its slot, else turned upright (90°, the box
     of a turned label is its own; truncated to ``length`` pixels). */
  /* ``label`` wrapped at spaces into at most ``lines`` lines of at most ``width`` pixels
     (bold 12 px); a word wider than a line is split with a hyphen, and text that does not
     fit ends in "…". */
  function wrap(label, width, lines) {
    measure.font = "600 12px system-ui, sans-serif";
    var fits = function (t) { return measure.measureText(t).width <= width; };
    var out = [], line = "", words = String(label).split(/\s+/).filter(Boolean), cut = false;
    for (var k = 0; k < words.length && !cut; k++) {
      var word = words[k], next = line ? line + " " + word : word;
      if (fits(next)) { line = next; continue; }
      if (line) { out.push(line); line = ""; }
      if (out.length === lines) { cut = true; break; }
      while (!fits(word)) {  // a word wider than the line: split it with a hyphen
        var m = word.length - 1;
        while (m > 1 && !fits(word.slice(0, m) + "-")) m -= 1;
        out.push(word.slice(0, m) + "-"); word = word.slice(m);
        if (out.length === lines) { cut = true; break; }
      }
      line = cut ? "" : word;
    }
    if (line && !cut) out.push(line);
    if (out.length > lines) { out = out.slice(0, lines); cut = true; }
    if (cut && out.length) {
      var last = out[out.length - 1].replace(/-$/, "");
      while (last && !fits(last + "…")) last = last.slice(0, -1);
      out[out.length - 1] = last.replace(/\s+$/, "") + "…";
    }
    return out;
  }
  function across(labels, el, margins, length) {
    measure.font = "12px system-ui, sans-serif";
    var slot = ((el.clientWidth || 300) - margins) / Math.max(1, labels.length);
    var widest = Math.max.apply(null, labels.map(function (l) { return measure.measureText(String(l)).width; }).concat([0]));
    if (widest <= slot - 8) return { axisLabel: { interval: 0, width: slot - 4, overflow: "truncate" }, bottom: 40 };
    var tall = Math.min(length, widest + 4);
    return { axisLabel: { interval: 0, rotate: 90, width: tall, overflow: "truncate" }, bottom: tall + 22 };
  }
  function make(el, option) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    option.color = option.color || palette;
    option.textStyle = { fontFamily: "system-ui, sans-serif" };
    option.animation = false;  // numbers, not motion: the chart is complete when the page is
    axes(option.xAxis, "x"); axes(option.yAxis, "y");
    if (option.tooltip) option.tooltip = safeTooltip(option.tooltip);
    (option.series || []).forEach(function (s) { if (s.tooltip && s.tooltip.show !== false) s.tooltip = safeTooltip(s.tooltip); });
    chart.setOption(option);
    charts.push(chart);
    return chart;
  }
  /* A trend's periods split into complete and incomplete ones (the analysis says which:
     "complete" false where recent entrants have not yet had the whole window): two series of
     one line, the incomplete part dashed and grey, named in the legend. */
  function trendSeries(rows, name, value, extra) {
    var cut = rows.length;
    rows.forEach(function (r, i) { if (r.complete === false && i < cut) cut = i; });
    var solid = rows.map(function (r, i) { return i < cut ? value(r) : null; });
    var dashed = rows.map(function (r, i) { return i >= cut - 1 && cut < rows.length ? value(r) : null; });
    var out = [Object.assign({ name: name, type: "line", smooth: false, showSymbol: rows.length < 40, data: solid }, extra || {})];
    if (cut < rows.length) {
      out.push({ name: text.incomplete, type: "line", smooth: false, showSymbol: rows.length < 40, data: dashed,
        lineStyle: { type: "dashed", color: "#9aa4b2" }, itemStyle: { color: "#9aa4b2" } });
    }
    return out;
  }
  var small = window.matchMedia("(max-width: 760px)").matches;

  var draw = {
    "circle": function (el) {
      /* The stages on a circle, each labelled outside it (name, then customers reached) on
         the side away from the centre. Each label gets the room its neighbours leave it: a
         side label no taller than the distance to the next label on its side, a label above
         or below no wider than the distance to its neighbours; a name that does not fit is
         wrapped at spaces and cut with "…" (the tooltip has it whole). Arrows bend inwards,
         away from the labels. */
      var stages = data.stages, n = stages.length, LINE = 16, GAP = 6;
      var w = el.clientWidth, h = el.clientHeight;
      var room = Math.min(150, Math.max(80, w * 0.28));  // width for a side label
      // Above and below: half the largest node, a gap and three lines of label.
      var r = Math.max(40, Math.min((w - 2 * room) / 2 - 10, (h / 2 - 3 * LINE - GAP) / 1.25));
      var biggest = Math.max(1, stages[0] ? stages[0].reached : 1);
      // Nodes leave half of the way to their neighbour free for the conversion between them.
      var maxSize = Math.min(80, r * 0.55, n > 1 ? r * Math.sin(Math.PI / n) : 80);
      var spots = stages.map(function (s, i) {
        var a = -Math.PI / 2 + (2 * Math.PI * i) / n, cx = Math.cos(a), cy = Math.sin(a);
        var side = cx < -0.35 ? "left" : (cx > 0.35 ? "right" : (cy < 0 ? "top" : "bottom"));
        return { x: w / 2 + r * cx, y: h / 2 + r * cy, side: side, size: maxSize * (0.45 + 0.55 * (s.reached / biggest)) };
      });
      var nodes = stages.map(function (s, i) {
        var me = spots[i], width, lines;
        if (me.side === "left" || me.side === "right") {
          // Centred on its node: as tall as the way to the nearest node on the same side.
          var tall = h;
          spots.forEach(function (o, j) { if (j !== i && o.side === me.side) tall = Math.min(tall, Math.abs(o.y - me.y)); });
          width = room - 12;
          lines = Math.max(1, Math.floor((tall - 4) / LINE) - 1);
        } else {
          // Centred under (or over) its node: no further than a node whose rows it could
          // reach (a side label points away from it), or half way to a label also centred.
          var half = room * 0.8;
          spots.forEach(function (o, j) {
            if (j === i || Math.abs(o.y - me.y) >= 3 * LINE + me.size) return;
            var dx = Math.abs(o.x - me.x);
            half = Math.min(half, o.side === "top" || o.side === "bottom" ? dx / 2 - GAP : dx - o.size / 2 - GAP);
          });
          width = Math.max(40, 2 * half);
          lines = 2;
        }
        var name = wrap(s.label, width, lines).join("\n");
        return { name: s.label, x: me.x, y: me.y, value: s.reached, symbolSize: me.size,
          itemStyle: { color: s.biggest_loss ? "#c62828" : palette[0] },
          label: { show: true, position: me.side, distance: GAP, formatter: function () { return name + "\n" + num(s.reached); },
            align: me.side === "left" ? "right" : (me.side === "right" ? "left" : "center"),
            lineHeight: LINE, fontSize: 12, fontWeight: 600, color: "#1d2430" } };
      });
      // A conversion is written on its arrow when the arrow is long enough to hold it clear
      // of the names, else left off (a phone with many stages: the funnel page has them).
      var roomy = n < 2 || 2 * r * Math.sin(Math.PI / n) >= 110;
      var links = stages.map(function (s, i) {
        var next = stages[(i + 1) % n];
        return { source: s.label, target: next.label, label: { show: i + 1 < n && roomy, formatter: pct(next.conversion_from_previous) } };
      });
      // ECharts fits the nodes' bounding box into the series' box: give it exactly that box.
      var xs = nodes.map(function (d) { return d.x; }), ys = nodes.map(function (d) { return d.y; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (x1 - x0 < 1) { x0 -= 1; x1 += 1; }
      if (y1 - y0 < 1) { y0 -= 1; y1 += 1; }
      make(el, { tooltip: {}, series: [{ type: "graph", layout: "none", data: nodes, links: links,
        left: x0, top: y0, width: x1 - x0, height: y1 - y0, roam: false,
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 10, lineStyle: { width: 2.5, curveness: -0.35, color: "#8aa4c8" },
        edgeLabel: { show: true, fontSize: 11, color: "#33404f", backgroundColor: "rgba(255,255,255,.9)", padding: [1, 3] } }] });
    },
    "emotions": function (el) {
      /* One line per persona over the stage columns (the chart spans them exactly, so each
         point sits on its column's centre). Personas who feel the same at a stage are drawn
         a little apart there (the tooltip says the score), each line has its own dash and
         symbol, and the legend wraps so that every name shows. Surveys are dashed diamonds. */
      var labels = data.stages.map(function (s) { return s.label; });
      var names = {}; data.personas.forEach(function (p) { names[p.id] = p.name; });
      var dashes = ["solid", [8, 4], [2, 3], [10, 3, 2, 3]], symbols = ["circle", "rect", "triangle", "roundRect", "pin"];
      var lines = Object.keys(data.emotions).map(function (pid) { return { name: names[pid] || pid, values: data.emotions[pid] }; });
      var spread = 0.14;
      var series = lines.map(function (line, k) {
        return { name: line.name, type: "line", smooth: false, clip: false, symbol: symbols[k % symbols.length], symbolSize: 9, connectNulls: true,
          lineStyle: { type: dashes[k % dashes.length], width: 2 },
          data: line.values.map(function (v, i) {
            if (v == null) return null;
            var same = lines.filter(function (o) { return o.values[i] === v; }), at = same.indexOf(line);
            return { value: v + (at - (same.length - 1) / 2) * spread, score: v };
          }) };
      });
      (data.measured_emotions || []).forEach(function (m) {
        series.push({ name: m.name, type: "line", smooth: false, symbol: "diamond", symbolSize: 10, connectNulls: true, lineStyle: { type: "dashed", width: 2 },
          data: m.values.map(function (v, i) {
            if (v == null) return null;
            var s = m.scores[i], shown = m.metric === "nps" ? "NPS " + Math.round(s) : s.toFixed(1);
            return { value: v, score: shown + " (n=" + num(m.responses[i]) + ")",
              label: { show: true, position: "bottom", fontSize: 10, formatter: shown + " (n=" + num(m.responses[i]) + ")" } };
          }) });
      });
      // The legend wraps: count its rows for this width and make room for them.
      var width = el.clientWidth, rows = 1, used = 0;
      series.forEach(function (sr) {
        var item = 34 + 6.5 * String(sr.name).length;
        if (used && used + item > width - 10) { rows += 1; used = 0; }
        used += item;
      });
      var top = 6 + 20 * rows;
      el.style.height = (150 + top) + "px";
      make(el, { tooltip: { trigger: "axis", formatter: function (ps) {
          var out = [ps.length ? ps[0].axisValueLabel : ""];
          ps.forEach(function (p) { if (p.data && p.data.score != null) out.push(p.seriesName + ": " + p.data.score); });
          return out.join("\n"); } },
        legend: { top: 2, left: 8, right: 8, type: "plain", itemGap: 12, itemWidth: 22, textStyle: { fontSize: 12 } },
        grid: { left: 0, right: 0, top: top + 8, bottom: 10 },
        xAxis: { type: "category", data: labels, boundaryGap: true, axisLabel: { show: false }, axisTick: { show: false } },
        yAxis: { type: "value", min: -2, max: 2, interval: 1, splitLine: { lineStyle: { color: "#eef1f5" } },
          axisLabel: { inside: true, formatter: function (v) { return { "-2": "☹", "0": "😐", "2": "☺" }[String(v)] || ""; } } },
        series: series });
    },
    "stage-funnel": function (el) {
      // Labels beside the funnel with a leader line: readable however narrow a segment is.
      var width = el.clientWidth || 300, room = Math.min(220, Math.round(width * 0.45));
      make(el, { tooltip: { formatter: function (p) { return p.name + ": " + num(p.value); } },
        series: [{ type: "funnel", sort: "none", left: 8, top: 10, bottom: 10, width: width - room - 24, minSize: "6%", gap: 2,
          label: { position: "right", width: room - 12, overflow: "truncate", color: "#1d2430", fontSize: 12,
            formatter: function (p) { return p.name + "  " + num(p.value); } },
          labelLine: { length: 10, lineStyle: { color: "#9aa4b2" } },
          labelLayout: { hideOverlap: true },
          data: data.stages.map(function (s) { return { name: s.label, value: s.reached }; }) }] });
    },
    "event-funnel": function (el) {
      // Steps down the side (bars across): a step's name has the chart's width, never a slot.
      var rows = data.funnel, segs = [];
      rows.forEach(function (r) { var s = r.segment == null ? "" : String(r.segment); if (segs.indexOf(s) < 0) segs.push(s); });
      var steps = data.steps.map(function (s, i) { return (i + 1) + ". " + stepName(s); });
      var width = el.clientWidth || 300, labelWidth = Math.min(170, Math.round(width * 0.32));
      var series = segs.map(function (seg) {
        return { name: seg || text.customers, type: "bar", data: steps.map(function (_, i) {
          var r = rows.filter(function (x) { return x.step === i + 1 && (x.segment == null ? "" : String(x.segment)) === seg; })[0];
          return r ? r.count : 0; }), label: { show: segs.length === 1, position: "right", formatter: function (p) { return num(p.value); } } };
      });
      var names = segs.length > 1 ? series.map(function (x) { return x.name; }) : [];
      var lg = legend(el, names, { show: segs.length > 1 });
      el.style.height = Math.max(el.clientHeight, lg.top + 40 + steps.length * Math.max(34, 16 * segs.length)) + "px";
      var c = make(el, { tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, legend: lg.legend,
        grid: { left: labelWidth + 14, right: 56, top: segs.length > 1 ? lg.top : 10, bottom: 30 },
        yAxis: { type: "category", data: steps, inverse: true, axisLabel: { width: labelWidth, overflow: "truncate", interval: 0 } },
        xAxis: { type: "value", splitNumber: small ? 3 : 5 }, series: series });
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
        return { name: st + ". " + stepName(data.steps[st - 1]), type: "bar", data: rows.filter(function (r) { return r.step === st; }).map(function (r) { return r.customers; }) };
      });
      var lg = legend(el, series.map(function (x) { return x.name; }));
      var fit = across(bins, el, 66, 100);
      el.style.height = Math.max(el.clientHeight, lg.top + 220 + fit.bottom) + "px";
      make(el, { tooltip: { trigger: "axis" }, legend: lg.legend, grid: { left: 50, right: 16, top: lg.top + 6, bottom: fit.bottom },
        xAxis: { type: "category", data: bins, axisLabel: fit.axisLabel }, yAxis: { type: "value" }, series: series });
    },
    "trend": function (el) {
      var rows = data.trend;
      var series = trendSeries(rows, text.conversion, function (r) { return r.conversion; }, { areaStyle: { opacity: 0.12 } });
      var lg = legend(el, series.map(function (x) { return x.name; }), { show: series.length > 1 });
      /* Each period's conversion with its sample size: a spike from a week with few
         entrants is seen as such ("n" = customers who started the funnel then). */
      make(el, { tooltip: { trigger: "axis", formatter: function (ps) {
          var r = rows[ps[0].dataIndex];
          return day(r.period) + (r.complete === false ? " (" + text.incomplete + ")" : "") + "\n" +
            text.conversion + ": " + pct(r.conversion) + "\n" +
            text.started + " (n): " + num(r.started) + " · " + text.converted + ": " + num(r.converted);
        } }, legend: lg.legend,
        grid: { left: 62, right: 24, top: series.length > 1 ? lg.top + 8 : 20, bottom: 40 },
        xAxis: { type: "category", data: rows.map(function (r) { return day(r.period); }) },
        yAxis: { type: "value", axisLabel: { formatter: pct } },
        series: series });
      if (series.length > 1) noteAfter(el, text.incomplete_note);
    },
    "sankey": function (el) {
      var names = {}, nodes = [], links = [], depth = 0;
      data.links.forEach(function (l) {
        if (l.target === "(end)") return;  // a path that stops simply ends its band
        var s = l.source_step + ". " + l.source, t = l.target_step + ". " + l.target;
        [s, t].forEach(function (n) { if (!names[n]) { names[n] = 1; nodes.push({ name: n }); } });
        links.push({ source: s, target: t, value: l.count });
        depth = Math.max(depth, l.target_step);
      });
      links.sort(function (a, b) { return b.value - a.value; });
      links = links.slice(0, 80);
      var used = {}; links.forEach(function (l) { used[l.source] = used[l.target] = 1; });
      // Each column's labels get the room up to the next column and the last column's the
      // margin on the right; where two would meet, the smaller node's label is left out (its
      // name is in the tooltip and the table below).
      // Columns at least 120 px apart: on a narrow screen the chart scrolls sideways.
      var right = 150, columns = Math.max(2, depth);
      var width = wide(el, 10 + right + 120 * (columns - 1));
      var gapX = (width - 10 - right) / (columns - 1);
      var kept = nodes.filter(function (n) { return used[n.name]; });
      // Nodes keep their ids ("2. ad_click"); they are shown by their labels ("2. Ad click").
      function nodeName(n) { var i = n.indexOf(". "); return n.slice(0, i + 2) + shown(data.level, n.slice(i + 2)); }
      var label = { fontSize: 11, width: Math.max(30, Math.min(gapX, right) - 22), overflow: "truncate", padding: [1, 2],
        formatter: function (p) { return nodeName(p.name); } };
      var chart = make(el, { tooltip: { trigger: "item", formatter: function (p) {
          return p.dataType === "edge" ? nodeName(p.data.source) + " → " + nodeName(p.data.target) + ": " + num(p.data.value)
            : nodeName(p.name) + ": " + num(p.value); } }, series: [{ type: "sankey", left: 10, top: 10, bottom: 10, right: right, nodeGap: 8, layoutIterations: 64, nodeAlign: "left", emphasis: { focus: "adjacency" },
        data: kept, links: links, lineStyle: { color: "gradient", opacity: 0.35 }, label: label }] });
      // Labels sit at their nodes' middles; in each column, from the biggest node down, a
      // label that would come within a line of one already kept is left out.
      var nodeData = chart.getModel().getSeriesByIndex(0).getData(), placed = [], hidden = 0, line = 15;
      var size = {};
      links.forEach(function (l) { size[l.source] = (size[l.source] || 0) + l.value; size[l.target] = (size[l.target] || 0) + l.value; });
      var order = kept.map(function (n, i) { return { i: i, l: nodeData.getItemLayout(i), v: size[n.name] }; });
      order.sort(function (p, q) { return q.v - p.v; });
      order.forEach(function (o) {
        var mid = o.l.y + o.l.dy / 2, clash = placed.some(function (p) { return Math.abs(p.x - o.l.x) < 1 && Math.abs(p.mid - mid) < line; });
        if (clash) { kept[o.i].label = { show: false }; hidden += 1; } else placed.push({ x: o.l.x, mid: mid });
      });
      if (hidden) chart.setOption({ series: [{ data: kept }] });
      noteAfter(el, hidden ? text.sankey_note : "");
    },
    "dfg": function (el) {
      /* A process map drawn left to right (Sugiyama, Tagawa and Toda 1981): activities in
         layers by their longest path from the start (back edges, found by a depth-first search
         from the start, are drawn as orange arcs and do not count), an edge across several
         layers routed through a point in each, each layer ordered by the barycentre of its
         neighbours; every edge has a width by its frequency and its count, written where it
         meets no other label (else in its tooltip). "(end)" is drawn once per layer, one step
         right of the activities that end there. */
      var edges = data.dfg.filter(function (e) { return e.source !== e.target; })
        .sort(function (a, b) { return b.count - a.count; }).slice(0, 30);
      if (!edges.length) return;
      var max = Math.max.apply(null, edges.map(function (e) { return e.count; }));
      var out = {}, into = {}, names = [];
      edges.forEach(function (e) {
        [e.source, e.target].forEach(function (n) { if (!out[n]) { out[n] = []; into[n] = []; names.push(n); } });
        out[e.source].push(e); into[e.target].push(e);
      });
      var state = {}, back = [];
      function visit(n) {
        state[n] = 1;
        out[n].forEach(function (e) {
          if (state[e.target] === 1) back.push(e);
          else if (!state[e.target]) visit(e.target);
        });
        state[n] = 2;
      }
      names.filter(function (n) { return n === "(start)"; }).concat(names.filter(function (n) { return !into[n].length; }), names)
        .forEach(function (n) { if (!state[n]) visit(n); });
      var forward = edges.filter(function (e) { return back.indexOf(e) < 0; });
      var layer = {};
      function place(n) {  // the longest path to n over forward edges (they make no cycle)
        if (layer[n] != null) return layer[n];
        var l = 0;
        into[n].forEach(function (e) { if (back.indexOf(e) < 0) l = Math.max(l, place(e.source) + 1); });
        layer[n] = l;
        return l;
      }
      names.forEach(place);
      // "(end)" once per layer, just right of the activities that end there, so that no edge
      // into it runs across the whole map (nor piles its arrow onto one label).
      var END = "(end)", ends = {};
      if (into[END]) {
        names = names.filter(function (n) { return n !== END; });
        into[END].forEach(function (e) {
          var l = layer[e.source] + 1, n = END + "\u2060" + l;
          if (!ends[n]) { ends[n] = 1; names.push(n); layer[n] = l; out[n] = []; into[n] = []; }
          var copy = { source: e.source, target: n, count: e.count };
          out[e.source][out[e.source].indexOf(e)] = copy; into[n].push(copy);
          forward[forward.indexOf(e)] = copy;
        });
      }
      function bare(n) { return String(n).split("\u2060")[0]; }
      var last = Math.max.apply(null, names.map(function (n) { return layer[n]; }));
      // Forward edges as segments between adjacent layers, through a hidden point per layer.
      var segs = [], points = names.slice();
      forward.forEach(function (e, k) {
        var prev = e.source;
        for (var l = layer[e.source] + 1; l < layer[e.target]; l++) {
          var d = "\u0000" + k + ":" + l; layer[d] = l; points.push(d);
          segs.push({ from: prev, to: d, edge: e, first: prev === e.source, end: false }); prev = d;
        }
        segs.push({ from: prev, to: e.target, edge: e, first: prev === e.source, end: true });
      });
      var layers = [];
      for (var i = 0; i <= last; i++) layers.push([]);
      points.forEach(function (n) { layers[layer[n]].push(n); });
      function bary(n, dir) {
        var sum = 0, w = 0;
        segs.forEach(function (sg) {
          var other = dir > 0 ? (sg.to === n ? sg.from : null) : (sg.from === n ? sg.to : null);
          if (other == null) return;
          sum += layers[layer[other]].indexOf(other) * sg.edge.count; w += sg.edge.count;
        });
        return w ? sum / w : layers[layer[n]].indexOf(n);
      }
      for (var sweep = 0; sweep < 8; sweep++) {
        var dir = sweep % 2 === 0 ? 1 : -1;
        for (var k = dir > 0 ? 1 : last - 1; k >= 0 && k <= last; k += dir) {
          var ns = layers[k], key = {};
          ns.forEach(function (n, j) { key[n] = bary(n, dir) + j * 1e-6; });
          ns.sort(function (a, b) { return key[a] - key[b]; });
        }
      }
      var rows = Math.max.apply(null, layers.map(function (ns) { return ns.length; }));
      var colW = Math.max(small ? 110 : 124, ((el.clientWidth || 300) - 4) / (last + 1)), rowH = 58, padY = 60;
      var W = Math.floor(wide(el, colW * (last + 1))), H = Math.max(220, (rows - 1) * rowH + 2 * padY);
      colW = W / (last + 1);
      el.style.height = H + "px";
      var pos = {};
      points.forEach(function (n) {
        var ns = layers[layer[n]];
        pos[n] = [colW / 2 + colW * layer[n], padY + rowH * ((rows - ns.length) / 2 + ns.indexOf(n))];
      });
      var sizeOf = {};
      names.forEach(function (n) { var t = 0; out[n].concat(into[n]).forEach(function (e) { t += e.count; }); sizeOf[n] = 12 + 16 * Math.sqrt(t / (2 * max)); });
      var nodes = points.map(function (n) {
        var real = n.charAt(0) !== "\u0000";
        return { name: n, x: pos[n][0], y: pos[n][1], symbolSize: real ? sizeOf[n] : 0, tooltip: { show: real },
          label: { show: real, position: "bottom", distance: 4, fontSize: 11, color: "#1d2430", width: colW - 16, overflow: "truncate", fontWeight: 600,
            formatter: function () { return shown(data.level, bare(n)); } } };
      });
      function width(c) { return 1 + 7 * c / max; }
      var links = segs.map(function (sg) {
        return { source: sg.from, target: sg.to, value: sg.edge.count, what: shown(data.level, sg.edge.source) + " → " + shown(data.level, bare(sg.edge.target)),
          symbol: ["none", sg.end ? "arrow" : "none"], lineStyle: { width: width(sg.edge.count), curveness: 0, opacity: 0.55, color: "#1f6feb" } };
      }).concat(back.map(function (e) {
        return { source: e.source, target: e.target, value: e.count, what: shown(data.level, e.source) + " → " + shown(data.level, e.target),
          symbol: ["none", "arrow"], lineStyle: { width: width(e.count), curveness: 0.3, opacity: 0.6, color: "#e8590c" } };
      }));
      // Every node, its label and each count written so far take room; a count goes at the
      // middle of its edge's first segment (or arc), else a third or two thirds along.
      measure.font = "600 11px system-ui, sans-serif";
      var taken = [];
      names.forEach(function (n) {
        var r = sizeOf[n] / 2, w = Math.min(colW - 16, measure.measureText(shown(data.level, bare(n))).width);
        taken.push([pos[n][0] - r, pos[n][1] - r, 2 * r, 2 * r]);
        taken.push([pos[n][0] - w / 2 - 2, pos[n][1] + r + 3, w + 4, 16]);
      });
      function free(b) { return b[0] >= 0 && b[1] >= 0 && b[0] + b[2] <= W && b[1] + b[3] <= H && !taken.some(function (t) { return b[0] < t[0] + t[2] && t[0] < b[0] + b[2] && b[1] < t[1] + t[3] && t[1] < b[1] + b[3]; }); }
      measure.font = "10px system-ui, sans-serif";
      var counts = [];
      segs.filter(function (sg) { return sg.first; }).map(function (sg) { return { e: sg.edge, a: pos[sg.from], b: pos[sg.to], c: 0 }; })
        .concat(back.map(function (e) { return { e: e, a: pos[e.source], b: pos[e.target], c: 0.3 }; }))
        .sort(function (p, q) { return q.e.count - p.e.count; })
        .forEach(function (s) {
          var label = num(s.e.count), w = measure.measureText(label).width + 6, h = 14;
          var cp = [(s.a[0] + s.b[0]) / 2 - (s.a[1] - s.b[1]) * s.c, (s.a[1] + s.b[1]) / 2 - (s.b[0] - s.a[0]) * s.c];
          [0.5, 0.35, 0.65, 0.25, 0.75].some(function (t) {
            var x = (1 - t) * (1 - t) * s.a[0] + 2 * t * (1 - t) * cp[0] + t * t * s.b[0];
            var y = (1 - t) * (1 - t) * s.a[1] + 2 * t * (1 - t) * cp[1] + t * t * s.b[1];
            var box = [x - w / 2, y - h / 2, w, h];
            if (!free(box)) return false;
            taken.push(box);
            counts.push({ type: "text", x: box[0] + 3, y: box[1] + 1, silent: true, z: 100,
              style: { text: label, fill: "#33404f", fontSize: 10, backgroundColor: "rgba(255,255,255,.9)", padding: [1, 2] } });
            return true;
          });
        });
      make(el, { tooltip: { formatter: function (p) { return (p.dataType === "edge" ? p.data.what : shown(data.level, bare(p.name))) + (p.dataType === "edge" ? ": " + num(p.data.value) : ""); } },
        graphic: counts,
        series: [{ type: "graph", layout: "none", coordinateSystem: null, left: 0, top: 0, width: W, height: H,
          data: nodes.concat([{ name: "\u0001a", x: 0, y: 0, symbolSize: 0, label: { show: false }, tooltip: { show: false } },
            { name: "\u0001b", x: W, y: H, symbolSize: 0, label: { show: false }, tooltip: { show: false } }]),
          edgeSymbolSize: 8, links: links, itemStyle: { color: "#1f6feb" } }] });
    },
    "heatmap": function (el) {
      var rows = data.retention, cohorts = [], periods = [];
      rows.forEach(function (r) { var c = String(r.cohort).slice(0, 10); if (cohorts.indexOf(c) < 0) cohorts.push(c); if (periods.indexOf(r.period) < 0) periods.push(r.period); });
      periods.sort(function (a, b) { return a - b; });
      var values = rows.map(function (r) {
        var v = r.rate == null ? null : Math.round(r.rate * 1000) / 10;
        var cell = { value: [periods.indexOf(r.period), cohorts.indexOf(String(r.cohort).slice(0, 10)), v] };
        // A cohort's period not yet over when the data ends: hatched grey, its rate still growing.
        if (r.complete === false) cell.itemStyle = { color: "#e9ecef", borderColor: "#9aa4b2", borderType: "dashed", borderWidth: 1 };
        return cell;
      });
      var incomplete = rows.some(function (r) { return r.complete === false; });
      el.style.height = Math.max(300, 22 * cohorts.length + 130) + "px";
      make(el, { tooltip: { formatter: function (p) { var r = rows[p.dataIndex]; return text.cohort + " " + day(cohorts[p.value[1]]) + ", " + text.period + " " + periods[p.value[0]] + ": " + pct(r.rate) + (r.complete === false ? " (" + text.incomplete + ")" : ""); } },
        grid: { left: 96, right: 20, top: 10, bottom: incomplete ? 100 : 85 },
        xAxis: { type: "category", data: periods, name: text.period, nameLocation: "middle", nameGap: 28 },
        yAxis: { type: "category", data: cohorts.map(day), inverse: true },
        visualMap: { min: 0, max: 100, calculable: false, orient: "horizontal", left: "center", bottom: incomplete ? 18 : 0, itemHeight: 120, inRange: { color: ["#f7fbff", "#9ecae1", "#08519c"] }, text: [pct(1), pct(0)] },
        graphic: incomplete ? [{ type: "text", left: "center", bottom: 4, style: { text: "▨ " + text.incomplete, fill: "#5b6675", fontSize: 11 } }] : [],
        series: [{ type: "heatmap", data: values, label: { show: !small && periods.length <= 16 && cohorts.length <= 60, fontSize: 10, formatter: function (p) { return p.value[2] == null ? "" : num(Math.round(p.value[2])); } } }] });
    },
    "lifecycle": function (el) {
      var rows = data.lifecycle, x = rows.map(function (r) { return day(r.period); });
      var kinds = [["new", "#2f9e44", 1], ["returning", "#1f6feb", 1], ["resurrecting", "#f59f00", 1], ["dormant", "#c62828", -1]];
      var names = kinds.map(function (k) { return (text.lifecycle || {})[k[0]] || k[0]; });
      var lg = legend(el, names);
      make(el, { tooltip: { trigger: "axis", valueFormatter: function (v) { return num(Math.abs(v)); } }, legend: lg.legend, grid: { left: 50, right: 16, top: lg.top + 4, bottom: 36 },
        xAxis: { type: "category", data: x }, yAxis: { type: "value" },
        series: kinds.map(function (k, i) { return { name: names[i], type: "bar", stack: "all", itemStyle: { color: k[1] },
          data: rows.map(function (r) {
            var v = r[k[0]] == null ? 0 : k[2] * r[k[0]];
            return r.complete === false ? { value: v, itemStyle: { color: k[1], opacity: 0.35, decal: { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, 3], rotation: 0.8 } } } : v;
          }) }; }) });
      if (rows.some(function (r) { return r.complete === false; })) noteAfter(el, text.incomplete_note);
    },
    "compare": function (el) {
      var rows = data.comparison; if (!rows.length) return;
      // Stages by their labels and, compared by persona, the personas by their names.
      var side = function (v) { return data.by === "persona" ? shown("persona", v) : String(v); };
      var a = side(rows[0].segment_a), b = side(rows[0].segment_b);
      var labels = rows.map(function (r) { return r.stage ? shown("stage", r.stage) : r.label || r.event || r.step; });
      function ser(side, color) {
        return [{ name: side === "a" ? a : b, type: "bar", itemStyle: { color: color }, data: rows.map(function (r) { return r["rate_" + side]; }) },
          { type: "custom", name: (side === "a" ? a : b) + " CI", renderItem: function (params, api) {
              var xi = api.value(0), lo = api.coord([xi, api.value(1)]), hi = api.coord([xi, api.value(2)]);
              var off = (side === "a" ? -1 : 1) * api.size([1, 0])[0] * 0.18;
              return { type: "line", shape: { x1: lo[0] + off, y1: lo[1], x2: hi[0] + off, y2: hi[1] }, style: { stroke: "#222", lineWidth: 1.5 } };
            }, data: rows.map(function (r, i) { return [i, r["ci_low_" + side], r["ci_high_" + side]]; }), tooltip: { show: false } }];
      }
      var lg = legend(el, [a, b]), fit = across(labels, el, 78, 110);
      el.style.height = Math.max(el.clientHeight, lg.top + 200 + fit.bottom) + "px";
      make(el, { tooltip: { trigger: "axis", valueFormatter: pct }, legend: lg.legend, grid: { left: 62, right: 16, top: lg.top + 4, bottom: fit.bottom },
        xAxis: { type: "category", data: labels, axisLabel: fit.axisLabel }, yAxis: { type: "value", max: 1, axisLabel: { formatter: pct } },
        series: ser("a", "#1f6feb").concat(ser("b", "#e8590c")) });
    },
    "attribution": function (el) {
      var rows = data.models; if (!rows.length) return;
      var models = Object.keys(rows[0]).filter(function (k) { return /_share$/.test(k); });
      var names = models.map(function (m) { var key = m.replace(/_share$/, ""); return (text.models || {})[key] || key; });
      var channels = rows.map(function (r) { return r.channel_label || r.channel; });
      var lg = legend(el, names), fit = across(channels, el, 78, 110);
      el.style.height = Math.max(el.clientHeight, lg.top + 220 + fit.bottom) + "px";
      make(el, { tooltip: { trigger: "axis", valueFormatter: pct }, legend: lg.legend, grid: { left: 62, right: 16, top: lg.top + 4, bottom: fit.bottom },
        xAxis: { type: "category", data: channels, axisLabel: fit.axisLabel },
        yAxis: { type: "value", axisLabel: { formatter: pct } },
        series: models.map(function (m, i) { return { name: names[i], type: "bar", data: rows.map(function (r) { return r[m]; }) }; }) });
    },
    "visits": function (el) {
      var rows = data.visits; if (!rows.length) return;
      var stages = []; rows.forEach(function (v) { stages[v.stage_index - 1] = v.label; });
      for (var i = 0; i < stages.length; i++) if (stages[i] == null) stages[i] = "";
      make(el, { tooltip: { trigger: "item", formatter: function (p) { return String(p.value[0]).replace("T", " ").replace(".000Z", "") + ": " + p.value[1]; } },
        grid: { left: 120, right: 40, top: 10, bottom: 34 }, xAxis: { type: "time", splitNumber: small ? 2 : 5 },
        yAxis: { type: "category", data: stages, axisLabel: { width: 110, overflow: "truncate" } },
        series: [{ type: "line", step: "start", symbolSize: 9, data: rows.map(function (v) { return [v.entered_at.replace(" ", "T") + "Z", v.label]; }) }] });
    }
  };

  /* A chart at least ``need`` pixels wide: wider than its place, it scrolls sideways inside a
     wrapper (labels keep their room instead of shrinking to nothing). Returns the width. */
  function wide(el, need) {
    var avail = el.clientWidth || 300;
    if (need <= avail) return avail;
    var wrap = document.createElement("div");
    wrap.className = "chart-scroll";
    // A region that scrolls must be reachable by keyboard (WCAG 2.1.1): focusable, named.
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", el.getAttribute("aria-label") || "");
    el.parentNode.insertBefore(wrap, el); wrap.appendChild(el);
    el.style.width = Math.ceil(need) + "px";
    return Math.ceil(need);
  }

  /* A note under a chart (made once; its text from page-text). */
  function noteAfter(el, words) {
    if (el.parentNode.classList.contains("chart-scroll")) el = el.parentNode;
    var note = el.nextElementSibling && el.nextElementSibling.classList.contains("chart-note") ? el.nextElementSibling : null;
    if (!note) { note = document.createElement("p"); note.className = "note chart-note"; el.parentNode.insertBefore(note, el.nextSibling); }
    note.textContent = words || "";
  }

  /* A chart's text alternative when the page has no table of its numbers: a list (read by
     screen readers, hidden on screen) of every data point the chart draws, named by its
     category and series, linked by aria-describedby. */
  function describeChart(chart) {
    var el = chart.getDom();
    if (!el.id || el.hasAttribute("aria-describedby")) return;
    var opt = chart.getOption();
    function cats(axis) { return axis && axis[0] && axis[0].data ? axis[0].data.map(function (c) { return c && c.value != null ? c.value : c; }) : null; }
    var xs = cats(opt.xAxis), ys = cats(opt.yAxis);
    var ul = document.createElement("ul");
    ul.id = el.id + "-text"; ul.className = "sr-only";
    function add(line) { var li = document.createElement("li"); li.textContent = line; ul.appendChild(li); }
    function shown(v) { return typeof v === "number" ? num(v) : String(v); }
    (opt.series || []).forEach(function (s) {
      var who = s.name ? s.name + ": " : "";
      (s.links || s.edges || []).forEach(function (l) { add(who + l.source + " → " + l.target + ": " + shown(l.value)); });
      (s.data || []).forEach(function (d, i) {
        var v = d != null && typeof d === "object" && !Array.isArray(d) ? d.value : d;
        var name = d != null && typeof d === "object" && !Array.isArray(d) && d.name != null ? d.name : null;
        if (v == null && name == null) return;
        if (Array.isArray(v)) {
          var parts = v.map(function (x, k) {
            if (k === 0 && xs && typeof x === "number" && xs[x] != null) return xs[x];
            if (k === 1 && ys && typeof x === "number" && ys[x] != null) return ys[x];
            return shown(x);
          });
          add(who + (name != null ? name + ": " : "") + parts.join(", "));
        } else {
          var label = name != null ? name : (xs && xs[i] != null ? xs[i] : (ys && ys[i] != null ? ys[i] : String(i + 1)));
          add(who + label + (v != null ? ": " + shown(v) : ""));
        }
      });
    });
    if (!ul.childNodes.length) return;
    el.parentNode.insertBefore(ul, el.nextSibling);
    el.setAttribute("aria-describedby", ul.id);
  }

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
    charts.forEach(describeChart);
    var table = document.getElementById("event-funnel");
    if (table) {
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        var cell = tr.querySelector("td:nth-child(" + (data.by ? 2 : 1) + ")");
        var step = parseInt(cell.getAttribute("data-value"), 10);
        tr.addEventListener("click", function () { showStep(step); });
        // The same from the keyboard: the step number is a button (a row cannot be one).
        var button = document.createElement("button");
        button.type = "button"; button.className = "step";
        button.textContent = cell.textContent;
        button.setAttribute("aria-label", (text.customers_at_step || "") + " " + step);
        button.setAttribute("aria-controls", "step-customers");
        cell.textContent = ""; cell.appendChild(button);
      });
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
