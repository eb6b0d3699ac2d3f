"use strict";
// A script error is written on the page, where a test (or a person
// reading the DOM) can see it.
window.addEventListener("error", function (e) { document.body.setAttribute("data-js-error", String(e.message)); });
(function () {
  var D = JSON.parse(document.getElementById("data").textContent);
  var view = document.getElementById("view");
  var svg = document.getElementById("dia");
  var head = document.getElementById("lanehead");
  var info = document.getElementById("pinfo");
  var zoomLabel = document.getElementById("zoom");
  var NS = "http://www.w3.org/2000/svg";
  var W = +svg.getAttribute("data-w"), H = +svg.getAttribute("data-h");
  var z = 1, pinned = -1, hot = [], pins = [];

  // A band behind the row under the pointer, and a frame around the pinned one.
  var cursor = document.createElementNS(NS, "rect");
  cursor.setAttribute("id", "cursor");
  cursor.setAttribute("x", 0); cursor.setAttribute("width", W); cursor.setAttribute("height", D.rowH);
  cursor.setAttribute("y", -100);
  svg.insertBefore(cursor, document.getElementById("lanes"));
  var pinRow = document.createElementNS(NS, "rect");
  pinRow.setAttribute("id", "pinrow");
  pinRow.setAttribute("x", 1); pinRow.setAttribute("width", W - 2); pinRow.setAttribute("height", D.rowH);
  pinRow.setAttribute("y", -100);
  svg.insertBefore(pinRow, head);

  function rowTop(r) { return D.headH + r * D.rowH; }
  function ms(t) { return (t / 1000).toFixed(3); }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  function setZoom(nz, cx, cy) {
    nz = Math.max(0.05, Math.min(4, nz));
    if (cx === undefined) { cx = view.clientWidth / 2; cy = view.clientHeight / 2; }
    var ux = (view.scrollLeft + cx) / z, uy = (view.scrollTop + cy) / z;
    z = nz;
    svg.setAttribute("width", Math.round(W * z));
    svg.setAttribute("height", Math.round(H * z));
    view.scrollLeft = ux * z - cx;
    view.scrollTop = uy * z - cy;
    zoomLabel.textContent = Math.round(z * 100) + "%";
    stick();
  }
  function stick() { head.setAttribute("transform", "translate(0 " + (view.scrollTop / z) + ")"); overview(); }

  // The overview: the whole run in one column, faults and the violation
  // marked, the part in view framed; click or drag to go elsewhere.
  var ov = document.getElementById("overview");
  function overview() {
    if (!ov || !ov.getContext) return;
    var h = ov.clientHeight, w = ov.clientWidth, n = Math.max(D.rows.length, 1);
    if (ov.height !== h) ov.height = h;
    if (ov.width !== w) ov.width = w;
    var c = ov.getContext("2d");
    c.clearRect(0, 0, w, h);
    function y(r) { return r / n * h; }
    var colors = { part: "rgba(255,167,38,0.55)", down: "rgba(120,120,120,0.6)" };
    (D.bands || []).forEach(function (b) {
      c.fillStyle = colors[b[2]] || "#ccc";
      var x = b[2] === "down" ? w / 2 : 0;
      c.fillRect(x, y(b[0]), b[2] === "down" ? w / 2 : w, Math.max(1, y(b[1] + 1) - y(b[0])));
    });
    (D.ticks || []).forEach(function (t) {
      c.fillStyle = t[1] === "elided" ? "#999" : "#d50000";
      c.fillRect(0, y(t[0]), w, t[1] === "viol" ? 4 : 2);
    });
    var top = (view.scrollTop / z - D.headH) / D.rowH, rows = view.clientHeight / z / D.rowH;
    c.strokeStyle = "#1565c0";
    c.lineWidth = 2;
    var y0 = Math.max(1, y(top));
    c.strokeRect(1, y0, w - 2, Math.max(4, Math.min(h - 1 - y0, y(rows) - 2)));
  }
  var ovDrag = false;
  function ovGo(ev) {
    var r = ov.getBoundingClientRect();
    var row = (ev.clientY - r.top) / r.height * D.rows.length;
    view.scrollTop = Math.max(0, (D.headH + row * D.rowH) * z - view.clientHeight / 2);
    stick();
  }
  if (ov) {
    ov.addEventListener("pointerdown", function (ev) { ovDrag = true; ovGo(ev); ev.preventDefault(); });
    window.addEventListener("pointermove", function (ev) { if (ovDrag) ovGo(ev); });
    window.addEventListener("pointerup", function () { ovDrag = false; });
    window.addEventListener("resize", overview);
  }
  // Fit the lanes and a readable part of the text column; the rest of
  // each line is a scroll (or a hover) away.
  function fitWidth() { return Math.min(1, Math.max((view.clientWidth - 4) / W, (view.clientWidth - 4) / (D.textX + 420), 0.5)); }
  function showRow(r, where) {
    var y = rowTop(r) * z, h = view.clientHeight;
    var top = where === "center" ? y - h / 2 : y - h + (D.rowH + 60) * z;
    if (where !== "center" && y >= view.scrollTop + D.headH * z + 4 && y + D.rowH * z <= view.scrollTop + h) return;
    view.scrollTop = Math.max(0, top);
    stick();
  }

  function lineOf(el) {
    while (el && el !== svg) {
      if (el.getAttribute && el.hasAttribute("data-line")) return +el.getAttribute("data-line");
      el = el.parentNode;
    }
    return -1;
  }
  function rowAt(ev) {
    var r = svg.getBoundingClientRect();
    var y = (ev.clientY - r.top) / z;
    var row = Math.floor((y - D.headH) / D.rowH);
    return row >= 0 && row < D.rows.length ? row : -1;
  }
  function firstLine(row) { return D.rows[row].length ? D.rows[row][0] : -1; }

  // The states of every node as of a row: each node's latest state at or
  // before it, from the replay.
  function statesAt(row) {
    var seen = {}, out = [];
    for (var r = row; r >= 0; r--) {
      var s = D.states[r];
      if (!s) continue;
      s.split("\n").forEach(function (part) {
        var id = part.split(":")[0];
        if (!(id in seen)) { seen[id] = r; out.push([id, part, r]); }
      });
    }
    out.sort(function (a, b) { return (+a[0].slice(1)) - (+b[0].slice(1)); });
    return out;
  }

  function describe(i, isPin) {
    var L = D.lines[i];
    if (!L) return;
    var row = L[2], h = [];
    var tag = isPin ? '<span class="pin">pinned</span> · ' : "";
    var when = D.untimed ? "step #" + row : "t=" + ms(L[0]) + " ms";
    h.push('<div>' + tag + when + " · trace line " + (D.first + i) + "</div>");
    h.push('<div class="pl' + (i === D.violLine ? " viol" : "") + '">' + esc(L[1]) + "</div>");
    if (i === D.violLine && D.extra.violation && L[1] !== "violation " + D.extra.violation) h.push('<div class="pl viol">' + esc(D.extra.violation) + "</div>");
    var msg = D.msgs[L[3]];
    if (msg) {
      var parts = [];
      if (msg[0] >= 0 && D.lines[msg[0]] && msg[0] !== i) parts.push("sent at t=" + ms(D.lines[msg[0]][0]) + ' (<a href="#" data-go="' + msg[0] + '">line ' + (D.first + msg[0]) + "</a>)");
      (msg[1] || []).forEach(function (e) {
        if (e === i) return;
        var E = D.lines[e];
        if (E) parts.push(E[1].split(" ")[0] + " at t=" + ms(E[0]) + ' (<a href="#" data-go="' + e + '">line ' + (D.first + e) + "</a>)");
        else parts.push("ends in a stretch not drawn");
      });
      if (parts.length) h.push("<h3>this message</h3><div>" + parts.join("<br/>") + "</div>");
    }
    var lines = D.rows[row] || [];
    if (lines.length > 1) {
      h.push("<h3>the step (" + lines.length + " lines)</h3><ul>");
      lines.forEach(function (j) {
        h.push('<li class="pl' + (j === i ? " cur" : "") + (j === D.violLine ? " viol" : "") + '" data-go="' + j + '">' + esc(D.lines[j][1]) + "</li>");
      });
      h.push("</ul>");
    }
    var st = statesAt(row), any = Object.keys(D.states).length > 0;
    if (st.length) {
      h.push("<h3>node states after this step</h3>");
      st.forEach(function (s) {
        var cls = s[2] === row ? "st me" : "st old";
        var when = s[2] === row ? "" : " (as of " + (D.untimed ? "step #" + s[2] : "t=" + ms(D.rowAt[s[2]])) + ")";
        h.push('<div class="' + cls + '">' + esc(s[1]) + esc(when) + "</div>");
      });
    } else if (!any) {
      h.push('<p class="hint">No node states: see the note in the bar above.</p>');
    }
    info.innerHTML = h.join("");
  }

  function mark(list, cls, on) {
    list.forEach(function (el) { el.classList.toggle(cls, on); });
  }
  function elementsOf(i) {
    var out = Array.prototype.slice.call(svg.querySelectorAll('[data-line="' + i + '"]'));
    var L = D.lines[i];
    if (L && L[3] >= 0) out = out.concat(Array.prototype.slice.call(svg.querySelectorAll('[data-msg="' + L[3] + '"]')));
    return out;
  }
  var lastHover = [-2, -2];
  function hover(i, row) {
    if (lastHover[0] === i && lastHover[1] === row) return;
    lastHover = [i, row];
    mark(hot, "hot", false);
    hot = i >= 0 ? elementsOf(i) : [];
    mark(hot, "hot", true);
    cursor.setAttribute("y", row >= 0 ? rowTop(row) : -100);
    if (i >= 0) describe(i, false);
    else if (pinned >= 0) describe(pinned, true);
  }
  var ready = false;
  function pin(i, scroll) {
    if (ready && history.replaceState) {
      try { history.replaceState(null, "", i >= 0 ? "#L" + (D.first + i) : location.pathname + location.search); } catch (e) { /* some browsers refuse on file: */ }
    }
    mark(pins, "pinned", false);
    pinned = i;
    pins = i >= 0 ? elementsOf(i) : [];
    mark(pins, "pinned", true);
    if (i >= 0 && D.lines[i]) {
      pinRow.setAttribute("y", rowTop(D.lines[i][2]));
      describe(i, true);
      if (scroll) showRow(D.lines[i][2]);
    } else {
      pinRow.setAttribute("y", -100);
    }
  }

  svg.addEventListener("mousemove", function (ev) {
    if (drag) return;
    var i = lineOf(ev.target), row = rowAt(ev);
    if (i < 0 && row >= 0) i = firstLine(row);
    if (i >= 0 && D.lines[i]) row = D.lines[i][2];
    hover(i, row);
  });
  svg.addEventListener("mouseleave", function () { hover(-1, -1); });
  svg.addEventListener("click", function (ev) {
    if (moved) return;
    var i = lineOf(ev.target);
    if (i < 0) { var row = rowAt(ev); if (row >= 0) i = firstLine(row); }
    pin(i === pinned ? -1 : i, false);
  });
  info.addEventListener("click", function (ev) {
    var go = ev.target.closest ? ev.target.closest("[data-go]") : null;
    if (!go) return;
    ev.preventDefault();
    pin(+go.getAttribute("data-go"), true);
  });

  // Drag to pan; the wheel scrolls, ctrl+wheel zooms about the pointer.
  var drag = null, moved = false;
  view.addEventListener("pointerdown", function (ev) {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, l: view.scrollLeft, t: view.scrollTop };
    moved = false;
  });
  window.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    moved = true;
    view.classList.add("drag");
    view.scrollLeft = drag.l - dx;
    view.scrollTop = drag.t - dy;
  });
  window.addEventListener("pointerup", function () {
    drag = null;
    view.classList.remove("drag");
    setTimeout(function () { moved = false; }, 0);
  });
  view.addEventListener("wheel", function (ev) {
    if (!ev.ctrlKey && !ev.metaKey) return;
    ev.preventDefault();
    var r = view.getBoundingClientRect();
    setZoom(z * Math.pow(1.0015, -ev.deltaY), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  view.addEventListener("scroll", stick);

  function gotoViolation() {
    if (D.violLine < 0 || !D.lines[D.violLine]) return;
    pin(D.violLine, false);
    showRow(D.lines[D.violLine][2], "center");
  }
  // Fit the whole run, or as much as stays legible (a long run then fits
  // its width; the overview beside it holds the whole).
  function fitAll() { setZoom(Math.max(0.3, Math.min((view.clientWidth - 4) / W, (view.clientHeight - 4) / H)), 0, 0); view.scrollTop = 0; view.scrollLeft = 0; stick(); }
  function step(d) {
    var row = pinned >= 0 && D.lines[pinned] ? D.lines[pinned][2] + d : (d > 0 ? 0 : D.rows.length - 1);
    while (row >= 0 && row < D.rows.length && !D.rows[row].length) row += d;
    if (row >= 0 && row < D.rows.length) pin(D.rows[row][0], true);
  }
  function on(id, fn) { var el = document.getElementById(id); if (el) el.addEventListener("click", fn); }
  on("zin", function () { setZoom(z * 1.25); });
  on("zout", function () { setZoom(z / 1.25); });
  on("zfit", fitAll);
  on("z1", function () { setZoom(1); });
  on("zviol", gotoViolation);
  on("goviol", gotoViolation);
  // The times a violation names link to the first step at or after them.
  document.getElementById("banner").addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a[data-t]") : null;
    if (!a) return;
    ev.preventDefault();
    var t = +a.getAttribute("data-t");
    for (var r = 0; r < D.rows.length; r++) {
      if (D.rowAt[r] >= t && D.rows[r].length) { pin(D.rows[r][0], false); showRow(r, "center"); return; }
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var k = ev.key;
    if (k === "+" || k === "=") setZoom(z * 1.25);
    else if (k === "-") setZoom(z / 1.25);
    else if (k === "0") fitAll();
    else if (k === "1") setZoom(1);
    else if (k === "v") gotoViolation();
    else if (k === "ArrowDown" || k === "j") step(1);
    else if (k === "ArrowUp" || k === "k") step(-1);
    else if (k === "Escape") pin(-1, false);
    else return;
    ev.preventDefault();
  });

  // Default view: the width fits (never below half size); a short run fits
  // whole; the violation is in view and pinned, its state in the panel.
  setZoom(Math.max(0.5, fitWidth()), 0, 0);
  var zh = (view.clientHeight - 4) / H;
  if (H * z > view.clientHeight && zh >= 0.75 * z) setZoom(Math.max(0.5, zh), 0, 0);
  view.scrollLeft = 0;
  // #L<n> in the address pins trace line n (pinning writes it there, so
  // an address names an event); #fit shows the whole run; otherwise the
  // violation is pinned and in view.
  var want = /^#L(\d+)$/.exec(location.hash), wl = want ? +want[1] - D.first : -1;
  if (location.hash === "#fit") {
    fitAll();
  } else if (D.lines[wl]) {
    pin(wl, false);
    showRow(D.lines[wl][2], "center");
  } else if (D.violLine >= 0 && D.lines[D.violLine]) {
    pin(D.violLine, false);
    var vr = D.lines[D.violLine][2];
    if ((rowTop(vr) + D.rowH * 3) * z > view.clientHeight) showRow(vr, "center");
  }
  ready = true;
  stick();
  // Say whether the violation's marks are in the first view, for tests.
  var v = document.getElementById("viol");
  if (v) {
    var vb = view.getBoundingClientRect(), inView = true;
    Array.prototype.forEach.call(v.querySelectorAll(".vring, .vbar"), function (el) {
      var b = el.getBoundingClientRect();
      inView = inView && b.top >= vb.top && b.bottom <= vb.bottom && b.left >= vb.left && b.right <= vb.right;
    });
    document.body.setAttribute("data-viol-visible", inView ? "yes" : "no");
  }
  document.body.setAttribute("data-ready", "yes");
})();
