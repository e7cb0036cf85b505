/* provscan HTML report: table paging, sorting and filtering; evidence views built on demand.
   Submission text only ever reaches the page through textContent: never innerHTML. */
(function () {
  "use strict";
  var PAGE = 100;
  var reports = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function setupReport(section) {
    var id = section.id;
    var payload = JSON.parse(document.getElementById("data-" + id).textContent);
    payload.parsed = {};
    var tbody = section.querySelector("table.findings tbody");
    var rows = Array.prototype.slice.call(tbody.rows);
    var state = { page: 0, key: null, dir: 1, shown: rows };
    var filters = Array.prototype.slice.call(section.querySelectorAll("[data-filter]"));
    var info = section.querySelector(".page-info");
    reports[id] = { section: section, payload: payload, rows: rows };

    function apply() {
      var want = {};
      filters.forEach(function (f) { want[f.getAttribute("data-filter")] = f.value.trim().toLowerCase(); });
      var shown = rows.filter(function (r) {
        return (!want.severity || r.dataset.severity === want.severity) &&
          (!want.kind || r.dataset.kind === want.kind) &&
          (!want.project || r.dataset.project.toLowerCase() === want.project) &&
          (!want.path || r.dataset.path.toLowerCase().indexOf(want.path) >= 0);
      });
      if (state.key) {
        var key = state.key, numeric = state.numeric, dir = state.dir;
        shown.sort(function (a, b) {
          var x = a.dataset[key], y = b.dataset[key];
          if (numeric) { return dir * (parseFloat(x) - parseFloat(y)); }
          return dir * (x < y ? -1 : x > y ? 1 : 0);
        });
      }
      state.shown = shown;
      state.page = Math.max(0, Math.min(state.page, Math.ceil(shown.length / PAGE) - 1));
      render();
    }

    function render() {
      var start = state.page * PAGE;
      var page = state.shown.slice(start, start + PAGE);
      tbody.replaceChildren.apply(tbody, page);
      info.textContent = state.shown.length ?
        "rows " + (start + 1) + "-" + (start + page.length) + " of " + state.shown.length +
        (state.shown.length < rows.length ? " (filtered from " + rows.length + ")" : "") : "no finding matches";
    }

    filters.forEach(function (f) {
      f.addEventListener("input", function () { state.page = 0; apply(); });
      f.addEventListener("change", function () { state.page = 0; apply(); });
    });
    section.querySelectorAll("[data-page]").forEach(function (button) {
      button.addEventListener("click", function () {
        state.page += parseInt(button.getAttribute("data-page"), 10);
        apply();
      });
    });
    section.querySelectorAll("th[data-sort]").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.getAttribute("data-sort");
        state.dir = state.key === key ? -state.dir : (th.hasAttribute("data-num") ? -1 : 1);
        state.key = key;
        state.numeric = th.hasAttribute("data-num");
        section.querySelectorAll("th[data-sort]").forEach(function (other) { other.className = ""; });
        th.className = "sorted-" + state.dir;
        apply();
      });
    });
    apply();
  }

  /* -- evidence -------------------------------------------------------------------------------------------- */
  function codeTable(file, start, end, marked, context) {
    var table = el("table", "code");
    var tbody = el("tbody");
    table.appendChild(tbody);
    var keep = {};
    var n;
    for (n = start; n <= end; n++) {
      if (marked[n]) {
        for (var k = Math.max(start, n - context); k <= Math.min(end, n + context); k++) { keep[k] = true; }
      }
    }
    var anyMarked = Object.keys(marked).length > 0;
    n = start;
    while (n <= end) {
      if (anyMarked && !keep[n]) {
        var gapStart = n;
        while (n <= end && !keep[n]) { n++; }
        if (n - gapStart > 2) { tbody.appendChild(gapRow(file, gapStart, n - 1, marked)); continue; }
        for (var g = gapStart; g < n; g++) { tbody.appendChild(lineRow(file, g, marked)); }
        continue;
      }
      tbody.appendChild(lineRow(file, n, marked));
      n++;
    }
    return table;
  }

  function gapRow(file, from, to, marked) {
    var row = el("tr", "gap");
    row.appendChild(el("td", "ln", "\u22EE"));
    row.appendChild(el("td", "", (to - from + 1) + " unmatched lines (" + from + "-" + to + ") hidden: click to show"));
    row.addEventListener("click", function () {
      var parent = row.parentNode;
      for (var n = from; n <= to; n++) { parent.insertBefore(lineRow(file, n, marked), row); }
      parent.removeChild(row);
    });
    return row;
  }

  function lineRow(file, n, marked) {
    var row = el("tr", marked[n] ? "m" : "");
    row.setAttribute("data-line", n);
    row.appendChild(el("td", "ln", n));
    var cell = el("td", "src");
    var tokens = file.lines[String(n)];
    if (tokens) {
      for (var i = 0; i < tokens.length; i += 2) {
        if (tokens[i]) { cell.appendChild(el("span", tokens[i], tokens[i + 1])); }
        else { cell.appendChild(document.createTextNode(tokens[i + 1])); }
      }
    }
    row.appendChild(cell);
    return row;
  }

  function side(title, file, start, end, marked, context) {
    var box = el("div", "side");
    box.appendChild(el("h4", "", title));
    if (!file || file.problem) {
      box.appendChild(el("p", "warn", "text not available: " + (file ? file.problem : "not recorded")));
      return box;
    }
    if (file.warning) { box.appendChild(el("p", "warn", file.warning)); }
    var scroll = el("div", "code-scroll code");
    scroll.appendChild(codeTable(file, start, Math.min(end, file.total || end), marked, context));
    box.appendChild(scroll);
    return box;
  }

  function scrollTo(box, line) {
    var scroll = box.querySelector(".code-scroll");
    var row = scroll && scroll.querySelector('tr[data-line="' + line + '"]');
    if (row) { scroll.scrollTop = row.offsetTop - 8; }
  }

  function noticeList(title, notices) {
    var box = el("div");
    box.appendChild(el("h4", "", title));
    if (!notices.length) { box.appendChild(el("p", "muted", "none")); return box; }
    var list = el("ul");
    notices.forEach(function (n) {
      var where = (n.from ? n.from + ":" : "line ") + n.line + ": ";
      list.appendChild(el("li", "mono", where + n.text + (n.holder ? "  [holder: " + n.holder + "]" : "")));
    });
    box.appendChild(list);
    return box;
  }

  function fileOf(payload, key) {
    var cached = payload.parsed[key];
    if (cached === undefined && payload.files[key] !== undefined) {
      cached = payload.parsed[key] = JSON.parse(payload.files[key]);
    }
    return cached;
  }

  function figure(parent, label, value) {
    var span = el("span", "", label + " ");
    span.appendChild(el("b", "", value));
    parent.appendChild(span);
  }

  function markLines(marked, blocks, which) {
    blocks.forEach(function (b) {
      var range = b[which];
      for (var n = range[0]; n <= range[1]; n++) { marked[n] = true; }
    });
  }

  function renderCodeMatch(body, report, f) {
    var p = report.payload;
    var sim = f.similarity;
    var figures = el("div", "figures");
    figure(figures, "Jaccard", sim.jaccard.toFixed(2));
    figure(figures, "containment (submission in source)", sim.containment.toFixed(2));
    figure(figures, "containment (source in submission)", sim.source_containment.toFixed(2));
    figure(figures, "shared shingles", sim.shared_shingles);
    figure(figures, "aligned coverage", sim.alignment.toFixed(2));
    if (sim.local_run) { figure(figures, "local block (shingles in one run)", sim.local_run); }
    figure(figures, "matched lines", f.matched_lines);
    if (f.strength) {
      figure(figures, "evidence", f.strength.level);
      figure(figures, "uncommon shingles", f.strength.uncommon_shingles);
      figure(figures, "corpus files holding it", f.strength.corpus_files);
      if (f.strength.literals) { figure(figures, "long literals shared word for word", f.strength.literals); }
    }
    if (f.source_license) { figure(figures, "source licence", f.source_license.id); }
    body.appendChild(figures);
    strengthNote(body, f.strength);
    if (f.source_license) { body.appendChild(el("p", "muted", f.source_license.obligations)); }
    var src = f.source;
    var subMarked = {}, srcMarked = {};
    markLines(subMarked, f.evidence, "submission_lines");
    markLines(srcMarked, f.evidence, "source_lines");
    var srcStart = src.start_line, srcEnd = src.end_line;
    f.members.forEach(function (m) {
      markLines(subMarked, m.evidence, "submission_lines");
      if (m.source.path === src.path) {
        markLines(srcMarked, m.evidence, "source_lines");
        srcStart = Math.min(srcStart, m.source.start_line);
        srcEnd = Math.max(srcEnd, m.source.end_line);
      }
    });
    var sides = el("div", "sides");
    sides.appendChild(side("submission " + f.location.path + ":" + f.location.start_line + "-" + f.location.end_line +
      " (" + f.submission.fragment_kind + " " + f.submission.fragment_name + ")",
      fileOf(p, "s:" + f.location.path), f.location.start_line, f.location.end_line, subMarked, p.context));
    sides.appendChild(side(src.corpus + "/" + src.project + ": " + src.path + ":" + src.start_line + "-" + src.end_line +
      " (" + src.kind + " " + src.name + ")",
      fileOf(p, "c:" + src.corpus + ":" + src.path), srcStart, srcEnd, srcMarked, p.context));
    body.appendChild(sides);
    var blocks = el("ul", "blocks");
    f.evidence.forEach(function (b) {
      var item = el("li", "mono block", "submission " + b.submission_lines.join("-") + " = source " +
        b.source_lines.join("-") + " (" + b.shingles + " shingles)");
      item.addEventListener("click", function () {
        scrollTo(sides.children[0], b.submission_lines[0]);
        scrollTo(sides.children[1], b.source_lines[0]);
      });
      blocks.appendChild(item);
    });
    body.appendChild(el("h4", "", "Evidence blocks (runs of shared code in the same order; click one to show it " +
      "on both sides)"));
    body.appendChild(blocks);
    if (f.members.length) {
      body.appendChild(el("h4", "", "Nested fragments folded in"));
      var members = el("ul");
      f.members.forEach(function (m) {
        members.appendChild(el("li", "mono", m.fragment_kind + " " + m.fragment_name + " " + m.start_line + "-" +
          m.end_line + " <- " + m.source.path + ":" + m.source.start_line + "-" + m.source.end_line + " " +
          m.source.name + " (Jaccard " + m.jaccard.toFixed(2) + ")"));
      });
      body.appendChild(members);
    }
    var notices = el("div", "sides");
    notices.appendChild(noticeList("Notices of the submission file", p.notices[f.location.path] || []));
    notices.appendChild(noticeList("Notices of the source file", f.source_notices));
    body.appendChild(notices);
    if (f.also_in_total) {
      body.appendChild(el("h4", "", "Also in " + f.also_in_total + " other corpus file(s), equally good"));
      body.appendChild(el("p", "mono", f.also_in.map(function (a) {
        return a.project + ": " + a.path + ":" + a.start_line + " (" + a.jaccard.toFixed(2) + ")";
      }).join(", ") + (f.also_in_total > f.also_in.length ? ", ..." : "")));
    }
    if (f.first_written_in) {
      var first = f.first_written_in;
      body.appendChild(el("h4", "", "First written in " + first.project));
      body.appendChild(el("p", "mono", first.corpus + "/" + first.project + ": " + first.path + ":" +
        first.start_line + " " + first.name + " (the corpus's lineage; " + f.source.project +
        " has it from there)"));
    }
  }

  // Why a finding is capped below HIGH: weak or moderate evidence, with the reasons (provscan/strength.py)
  function strengthNote(body, strength) {
    if (strength && strength.level !== "strong") {
      body.appendChild(el("p", "muted", strength.level + " evidence: " + strength.reasons.join("; ")));
    }
  }

  function renderAttribution(body, report, f) {
    var a = f.attribution;
    var sides = el("div", "sides");
    var src = a.source_notices.map(function (n) { return n; });
    sides.appendChild(noticeList("Source " + a.source.corpus + "/" + a.source.project + ": " + a.source.path, src));
    sides.appendChild(noticeList("Submission " + f.location.path, a.submission_notices));
    body.appendChild(sides);
    body.appendChild(el("p", "", "Matched lines behind it: " + a.matched_lines));
    strengthNote(body, a.strength);
    var list = el("ul");
    a.code_findings.forEach(function (id) {
      var link = el("a", "", id);
      link.href = "#ev-" + report.section.id + "-" + id;
      var item = el("li");
      item.appendChild(link);
      list.appendChild(item);
    });
    body.appendChild(list);
  }

  function renderLines(body, report, f) {
    var p = report.payload;
    var lines = f.marker ? f.marker.lines.map(function (l) { return l.line; }) :
      f.notice ? [f.notice.line] : [f.location.start_line];
    var marked = {};
    lines.forEach(function (n) { marked[n] = true; });
    var first = Math.max(1, Math.min.apply(null, lines) - p.context);
    var last = Math.max.apply(null, lines) + p.context;
    var sides = el("div", "sides");
    sides.appendChild(side("submission " + f.location.path, fileOf(p, "s:" + f.location.path), first, last, marked,
      p.context));
    body.appendChild(sides);
  }

  function renderModel(body, f) {
    var table = el("table", "kv");
    var rows = [["model directory", f.model.directory], ["reference", f.model.reference]];
    Object.keys(f.model.evidence || {}).forEach(function (key) {
      var value = f.model.evidence[key];
      rows.push([key, typeof value === "object" ? JSON.stringify(value) : value]);
    });
    rows.forEach(function (pair) {
      var row = el("tr");
      row.appendChild(el("th", "", pair[0]));
      row.appendChild(el("td", "mono", pair[1]));
      table.appendChild(row);
    });
    body.appendChild(table);
  }

  function showEvidence(reportId, findingId) {
    var report = reports[reportId];
    if (!report) { return; }
    var f = report.payload.findings[findingId];
    if (!f) { return; }
    var box = document.getElementById(reportId + "-evidence");
    var body = box.querySelector(".evidence-body");
    body.replaceChildren();
    var head = el("div", "ev-head");
    head.appendChild(el("span", "badge sev-" + f.severity, f.severity));
    head.appendChild(document.createTextNode(" " + f.kind + " " + f.id + " "));
    head.appendChild(el("div", "msg", f.message));
    body.appendChild(head);
    if (f.kind === "code-match") { renderCodeMatch(body, report, f); }
    else if (f.attribution) { renderAttribution(body, report, f); }
    else if (f.model) { renderModel(body, f); }
    else { renderLines(body, report, f); }
    box.hidden = false;
    report.rows.forEach(function (r) { r.classList.toggle("current", r.dataset.id === findingId); });
    box.scrollIntoView();
  }

  function route() {
    var hash = decodeURIComponent(location.hash.slice(1));
    var match = /^ev-(r[0-9]+)-(.+)$/.exec(hash);
    if (match) { showEvidence(match[1], match[2]); }
  }

  document.querySelectorAll("section.report").forEach(setupReport);
  window.addEventListener("hashchange", route);
  route();
}());
