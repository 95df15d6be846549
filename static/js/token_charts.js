// Token page charts (lightweight-charts, served from the npm package): candlesticks with
// volume bars, live-updated by polling the candles endpoint, and the grade history lines.
// Data arrives in a <script type="application/json"> block, so there is no inline script.
(function () {
  "use strict";
  var LWC = window.LightweightCharts;
  var dataEl = document.getElementById("chart-data");
  if (!LWC || !dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var status = document.querySelector("[data-chart-status]");

  function colors() {
    var css = getComputedStyle(document.documentElement);
    function v(name) { return css.getPropertyValue(name).trim(); }
    return { bg: v("--card"), fg: v("--fg"), grid: v("--border"), up: v("--up"), down: v("--down"), accent: v("--accent"), muted: v("--muted") };
  }
  function layout(c) {
    return {
      layout: { background: { type: "solid", color: c.bg }, textColor: c.fg },
      grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
      rightPriceScale: { borderColor: c.grid },
      timeScale: { borderColor: c.grid, timeVisible: true, secondsVisible: false },
    };
  }

  var charts = [];
  var priceEl = document.getElementById("price-chart");
  var candles, volume, lastTime = 0, interval = data.interval;

  function volumeBar(bar, c) {
    return { time: bar.time, value: bar.volume, color: bar.close >= bar.open ? c.up + "80" : c.down + "80" };
  }
  function setBars(bars) {
    var c = colors();
    candles.setData(bars.map(function (b) { return { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close }; }));
    volume.setData(bars.map(function (b) { return volumeBar(b, c); }));
    lastTime = bars.length ? bars[bars.length - 1].time : 0;
    if (status) status.textContent = bars.length ? "" : "No trades indexed for this interval yet.";
    priceEl.setAttribute("data-bars", String(bars.length));
  }

  if (priceEl) {
    var c = colors();
    var chart = LWC.createChart(priceEl, Object.assign({ autoSize: true }, layout(c)));
    candles = chart.addSeries(LWC.CandlestickSeries, {
      upColor: c.up, downColor: c.down, borderUpColor: c.up, borderDownColor: c.down, wickUpColor: c.up, wickDownColor: c.down,
      priceFormat: { type: "price", precision: 6, minMove: 0.000001 },
    });
    volume = chart.addSeries(LWC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume" });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
    setBars(data.candles);
    chart.timeScale().fitContent();
    charts.push(chart);

    function url(extra) { return data.candles_url + "?interval=" + encodeURIComponent(interval) + (extra || ""); }

    // Interval links work without JS (?interval=); with JS they reload only the series.
    document.querySelectorAll("[data-interval]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        interval = link.getAttribute("data-interval");
        document.querySelectorAll("[data-interval]").forEach(function (other) {
          if (other === link) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
        });
        history.replaceState(null, "", "?interval=" + encodeURIComponent(interval));
        var asked = interval;
        fetch(url(), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (body) {
            // A slower answer for an interval left since must not replace the current one.
            if (asked !== interval) return;
            setBars(body.candles); chart.timeScale().fitContent();
          });
      });
    });

    // Live: ask for bars since the last one (the open bucket keeps changing until it closes).
    setInterval(function () {
      if (document.hidden) return;
      var asked = interval;
      fetch(url(lastTime ? "&since=" + lastTime : ""), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { candles: [] }; })
        .then(function (body) {
          if (asked !== interval) return;  // bars of an interval the reader has left
          if (!lastTime) { if (body.candles.length) setBars(body.candles); return; }
          var cc = colors();
          body.candles.forEach(function (b) {
            candles.update({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close });
            volume.update(volumeBar(b, cc));
            lastTime = Math.max(lastTime, b.time);
          });
        })
        .catch(function () { /* next poll retries */ });
    }, (data.poll_seconds || 15) * 1000);
  }

  var gradeEl = document.getElementById("grade-chart");
  if (gradeEl && data.grades && data.grades.length) {
    var gc = colors();
    var gchart = LWC.createChart(gradeEl, Object.assign({ autoSize: true }, layout(gc)));
    var trader = gchart.addSeries(LWC.LineSeries, { color: gc.accent, lineWidth: 2, title: "Trader" });
    var investor = gchart.addSeries(LWC.LineSeries, { color: gc.up, lineWidth: 2, title: "Investor" });
    trader.setData(data.grades.map(function (g) { return { time: g.time, value: g.trader }; }));
    investor.setData(data.grades.map(function (g) { return { time: g.time, value: g.investor }; }));
    gchart.timeScale().fitContent();
    gradeEl.setAttribute("data-points", String(data.grades.length));
    charts.push(gchart);
  }

  document.addEventListener("tmsite:theme", function () {
    var c = colors();
    charts.forEach(function (ch) { ch.applyOptions(layout(c)); });
  });
})();
