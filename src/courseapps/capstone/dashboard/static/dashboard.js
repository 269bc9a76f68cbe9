// The capstone dashboard: polls api/state every 2 s and redraws six uPlot charts and four tiles.
// window.dashboard exposes the charts and the last state (the browser test reads them).
(function () {
  "use strict";
  const REFRESH_MS = 2000, MINUTES = Number(new URLSearchParams(location.search).get("minutes") || 3);
  const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const dashboard = window.dashboard = { updates: 0, errors: 0, charts: {}, last: null };

  // Vertical dashed lines where faults were injected, labelled with the fault's name.
  function faultMarkers(u) {
    const faults = (dashboard.last && dashboard.last.faults) || [];
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    ctx.strokeStyle = "#b00020"; ctx.fillStyle = "#b00020"; ctx.setLineDash([5, 4]); ctx.lineWidth = 1.5;
    ctx.font = `${11 * devicePixelRatio}px sans-serif`;
    for (const f of faults) {
      const x = Math.round(u.valToPos(f.at, "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillText(f.fault, x + 3, top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }

  function width(el) { return Math.max(300, el.clientWidth - 12); }

  function chart(id, names, panel) {
    const el = document.getElementById(id);
    const key = names.join("\u0000");
    const old = dashboard.charts[id];
    if (old && old._key === key) return old;
    if (old) old.destroy();
    el.innerHTML = "";
    const opts = {
      title: el.dataset.title, width: width(el), height: 200,
      scales: { x: { time: true } },
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length], width: 2,
                                              spanGaps: false, paths: panel === "step" ? uPlot.paths.stepped({ align: 1 }) : undefined }))],
      axes: [{}, { size: 60 }],
      hooks: { draw: [faultMarkers] },
    };
    const u = new uPlot(opts, [[], ...names.map(() => [])], el);
    u._key = key;
    dashboard.charts[id] = u;
    return u;
  }

  function draw(id, block, start, now, panel) {
    const names = Object.keys(block.series);
    const el = document.getElementById(id);
    const u = chart(id, names.length ? names : ["(no data yet)"], panel);
    const data = [block.time, ...(names.length ? names.map(n => block.series[n]) : [block.time.map(() => null)])];
    u.setData(data, false);
    u.setScale("x", { min: start, max: now });
    el.dataset.points = String(names.reduce((s, n) => s + block.series[n].filter(v => v !== null).length, 0));
  }

  function rows(target, entries, cls) {
    const body = document.querySelector(`#${target} .body`);
    body.innerHTML = entries.length ? "" : '<div class="row"><span>none</span></div>';
    for (const [name, value, klass] of entries) {
      const row = document.createElement("div");
      row.className = "row";
      row.innerHTML = `<span></span><span class="${klass || cls || ""}"></span>`;
      row.children[0].textContent = name; row.children[1].textContent = value;
      body.appendChild(row);
    }
  }

  async function refresh() {
    try {
      const response = await fetch(`api/state?minutes=${MINUTES}`, { cache: "no-store" });
      if (!response.ok) throw new Error(`${response.status} ${(await response.text()).slice(0, 200)}`);
      const s = await response.json();
      dashboard.last = s;
      document.getElementById("prefix").textContent = s.prefix;
      draw("throughput", s.throughput, s.start, s.now);
      draw("latency", s.latency, s.start, s.now);
      draw("lag", s.lag, s.start, s.now);
      draw("saga", s.saga, s.start, s.now);
      draw("dlq", s.dlq, s.start, s.now);
      draw("breaker_history", s.breaker_history, s.start, s.now, "step");
      rows("tile-saga", Object.entries(s.totals.saga).map(([k, v]) => [k, v]));
      rows("tile-dlq", Object.entries(s.totals.dlq).map(([k, v]) => [k, v]));
      rows("tile-breakers", s.breakers.map(b => [`${b.service} · ${b.breaker}`, b.state, `state-${b.state}`]));
      rows("tile-faults", s.faults.map(f => [new Date(f.at * 1000).toLocaleTimeString(), f.fault]));
      const status = document.getElementById("status");
      status.className = s.lag_error ? "error" : "";
      status.textContent = `updated ${new Date(s.now * 1000).toLocaleTimeString()}` +
        (s.lag_error ? ` · lag: ${s.lag_error}` : "");
      dashboard.updates += 1;
    } catch (err) {
      dashboard.errors += 1;
      const status = document.getElementById("status");
      status.className = "error"; status.textContent = `no data: ${err.message}`;
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }

  window.addEventListener("resize", () => {
    for (const [id, u] of Object.entries(dashboard.charts)) u.setSize({ width: width(document.getElementById(id)), height: 200 });
  });
  refresh();
})();
