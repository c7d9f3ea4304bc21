/* app.js — diamond's graph page. Plain JS, no framework; it talks only to diamond's Graphite
 * API: GET /metrics/find?query=<glob> (the series tree, one level per request) and
 * GET /render?target=..&from=..&until=..&format=json&maxDataPoints=N (the chart).
 *
 * The whole view lives in the URL's query string, so a view can be shared and reloaded:
 *   ?target=<t>&target=<t>...&from=-1h&until=now&refresh=off|10s|30s|1m
 * from/until are Graphite times (-6h, now, or epoch seconds after a zoom by dragging).
 * The API key (optional) is kept in localStorage and sent as X-Api-Key.
 *
 * After every draw (or failure) the page writes a JSON summary into <pre id="status">:
 *   {"state":"drawn","from":..,"until":..,"series":[{"target":..,"name":..,"points":N}]}
 * where points counts the non-null values; headless tests read it from the DOM.
 */
(function () {
  "use strict";

  var REFRESH = { off: 0, "10s": 10000, "30s": 30000, "1m": 60000 };
  var COLORS = ["#0288d1", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f",
                "#f9a825", "#4e342e", "#ad1457", "#283593"];
  var KEY_STORE = "diamond.apikey";

  var state = readState();
  var plot = null, timer = null, seq = 0;

  function $(id) { return document.getElementById(id); }

  function readState() {
    var q = new URLSearchParams(location.search);
    var refresh = q.get("refresh") || "off";
    return {
      targets: q.getAll("target").filter(function (t) { return t.trim() !== ""; }),
      from: q.get("from") || "-1h",
      until: q.get("until") || "now",
      refresh: REFRESH.hasOwnProperty(refresh) ? refresh : "off"
    };
  }

  function writeState() {
    var q = new URLSearchParams();
    state.targets.forEach(function (t) { q.append("target", t); });
    q.set("from", state.from);
    q.set("until", state.until);
    q.set("refresh", state.refresh);
    var url = location.pathname + "?" + q.toString();
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
  }

  function apiGet(path) {
    var headers = {};
    var key = localStorage.getItem(KEY_STORE);
    if (key) headers["X-Api-Key"] = key;
    return fetch(path, { headers: headers }).then(function (res) {
      return res.text().then(function (body) {
        if (!res.ok) {
          var msg = body;
          try { msg = JSON.parse(body).error.message; } catch (e) { /* not JSON */ }
          throw new Error(res.status + " " + path.split("?")[0] + ": " + msg);
        }
        return JSON.parse(body);
      });
    });
  }

  function setStatus(obj) { $("status").textContent = JSON.stringify(obj); }

  function message(text) { $("message").textContent = text || ""; }

  /* ---- the series tree: /metrics/find, one level at a time, loaded when opened ---- */

  function loadLevel(prefix, ul) {
    var query = prefix === "" ? "*" : prefix + ".*";
    ul.textContent = "";
    return apiGet("/metrics/find?query=" + encodeURIComponent(query)).then(function (nodes) {
      nodes.sort(function (a, b) { return a.text < b.text ? -1 : a.text > b.text ? 1 : 0; });
      nodes.forEach(function (n) { ul.appendChild(treeNode(n)); });
      if (nodes.length === 0 && prefix === "") {
        var li = document.createElement("li");
        li.textContent = "(no series yet)";
        ul.appendChild(li);
      }
    }).catch(function (err) { message(err.message); });
  }

  function treeNode(n) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.textContent = n.text;
    label.title = n.id;
    li.appendChild(label);
    if (n.leaf && !n.expandable) {
      li.className = "leaf";
      label.addEventListener("click", function () { addTarget(n.id); });
    } else {
      li.className = "branch";
      var sub = null;
      label.addEventListener("click", function () {
        if (sub === null) {
          sub = document.createElement("ul");
          li.appendChild(sub);
          loadLevel(n.id, sub);
          li.classList.add("open");
        } else {
          sub.hidden = !sub.hidden;
          li.classList.toggle("open", !sub.hidden);
        }
      });
      if (n.leaf) { /* a name that is both a series and a branch: double-click adds it */
        label.addEventListener("dblclick", function () { addTarget(n.id); });
      }
    }
    return li;
  }

  /* ---- targets, range, refresh ---- */

  function addTarget(t) {
    t = t.trim();
    if (t === "" || state.targets.indexOf(t) >= 0) return;
    state.targets.push(t);
    changed();
  }

  function renderTargets() {
    var ul = $("targets");
    ul.textContent = "";
    state.targets.forEach(function (t, i) {
      var li = document.createElement("li");
      li.appendChild(document.createTextNode(t));
      var rm = document.createElement("button");
      rm.textContent = "\u00d7";
      rm.title = "remove";
      rm.addEventListener("click", function () {
        state.targets.splice(i, 1);
        changed();
      });
      li.appendChild(rm);
      ul.appendChild(li);
    });
  }

  function renderControls() {
    var buttons = document.querySelectorAll("#ranges button");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      b.classList.toggle("active", b.dataset.from === state.from && state.until === "now");
    }
    $("range-label").textContent = fmtTime(state.from) + " \u2192 " + fmtTime(state.until);
    $("refresh").value = state.refresh;
  }

  function fmtTime(t) { /* epoch seconds in local time, as the chart's axis shows them */
    if (!/^\d+$/.test(t)) return t;
    var d = new Date(Number(t) * 1000);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes());
  }

  function schedule() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    var ms = REFRESH[state.refresh];
    if (ms > 0) timer = setInterval(draw, ms);
  }

  function changed() {
    writeState();
    apply();
  }

  function apply() {
    renderTargets();
    renderControls();
    schedule();
    draw();
  }

  /* ---- the chart ---- */

  function chartSize() {
    var el = $("chart");
    var w = Math.max(300, el.clientWidth || 800);
    var h = Math.max(240, Math.min(520, window.innerHeight - el.getBoundingClientRect().top - 120));
    return { width: w, height: h };
  }

  /* One x array (the union of every series' timestamps) and one y array per series. */
  function toColumns(series) {
    var ts = {};
    series.forEach(function (s) { s.datapoints.forEach(function (p) { ts[p[1]] = true; }); });
    var xs = Object.keys(ts).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (x, i) { index[x] = i; });
    var data = [xs];
    series.forEach(function (s) {
      var ys = new Array(xs.length).fill(null);
      s.datapoints.forEach(function (p) { ys[index[p[1]]] = p[0]; });
      data.push(ys);
    });
    return data;
  }

  function draw() {
    var my = ++seq;
    if (state.targets.length === 0) {
      if (plot) { plot.destroy(); plot = null; }
      $("chart").textContent = "Pick a series on the left or type a target above.";
      message("");
      setStatus({ state: "empty", from: state.from, until: state.until, series: [] });
      return;
    }
    var size = chartSize();
    var q = new URLSearchParams();
    state.targets.forEach(function (t) { q.append("target", t); });
    q.set("from", state.from);
    q.set("until", state.until);
    q.set("format", "json");
    q.set("maxDataPoints", String(Math.round(size.width)));
    apiGet("/render?" + q.toString()).then(function (series) {
      if (my !== seq) return; /* a newer draw started */
      message(series.length === 0 ? "No data for these targets in this range." : "");
      plotSeries(series, size);
      setStatus({
        state: "drawn", from: state.from, until: state.until,
        series: series.map(function (s) {
          return {
            target: s.target,
            name: (s.tags && s.tags.name) || s.target,
            points: s.datapoints.filter(function (p) { return p[0] !== null; }).length
          };
        })
      });
    }).catch(function (err) {
      if (my !== seq) return;
      message(err.message);
      setStatus({ state: "error", error: err.message, from: state.from, until: state.until });
    });
  }

  function plotSeries(series, size) {
    var opts = {
      width: size.width,
      height: size.height,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true } },
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.target, stroke: COLORS[i % COLORS.length], width: 1.5,
                 spanGaps: false, points: { show: false } };
      })),
      axes: [{}, { size: 60 }],
      hooks: { setSelect: [zoom] }
    };
    if (plot) plot.destroy();
    $("chart").textContent = "";
    plot = new uPlot(opts, toColumns(series), $("chart"));
  }

  /* Dragging over the chart selects an x range: it becomes the view's from/until. */
  function zoom(u) {
    if (u.select.width < 5) return;
    var from = Math.floor(u.posToVal(u.select.left, "x"));
    var until = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (until <= from) return;
    state.from = String(from);
    state.until = String(until);
    changed();
  }

  /* ---- wiring ---- */

  var ranges = document.querySelectorAll("#ranges button");
  for (var i = 0; i < ranges.length; i++) {
    ranges[i].addEventListener("click", function (ev) {
      state.from = ev.currentTarget.dataset.from;
      state.until = "now";
      changed();
    });
  }
  $("refresh").addEventListener("change", function (ev) {
    state.refresh = ev.target.value;
    changed();
  });
  $("target-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    addTarget($("target-input").value);
    $("target-input").value = "";
  });
  var keyInput = $("apikey");
  keyInput.value = localStorage.getItem(KEY_STORE) || "";
  keyInput.addEventListener("change", function () {
    if (keyInput.value) localStorage.setItem(KEY_STORE, keyInput.value);
    else localStorage.removeItem(KEY_STORE);
    loadLevel("", treeRoot);
    draw();
  });
  window.addEventListener("popstate", function () {
    state = readState();
    apply();
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (plot) plot.setSize(chartSize()); }, 150);
  });

  var treeRoot = document.createElement("ul");
  $("tree").appendChild(treeRoot);
  loadLevel("", treeRoot);
  apply();
})();
