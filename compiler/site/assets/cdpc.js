/* The search box of a site that `cdpc docs` writes. Hand-written, no library, no network:
   the index is the array that assets/index.js puts in window.cdpcIndex, one entry per page,
   definition and field: {t: title, k: kind, u: link, d: description, x: other words}.
   Every word typed must appear in an entry; a title that starts with or holds the words
   ranks first. Results are built with textContent only. Keys: "/" focuses the box,
   arrows move, Enter opens, Escape closes. */
(function () {
  "use strict";
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  if (!input || !list) { return; }
  var index = window.cdpcIndex || [];
  var hay = index.map(function (entry) {
    return [entry.t, entry.k, entry.d || "", entry.x || ""].join(" ").toLowerCase();
  });
  var active = -1;
  var MAX = 12;

  function rank(i, terms, query) {
    var title = index[i].t.toLowerCase();
    for (var n = 0; n < terms.length; n++) {
      if (hay[i].indexOf(terms[n]) < 0) { return -1; }
    }
    if (title === query) { return 4; }
    if (title.indexOf(query) === 0) { return 3; }
    if (title.indexOf(query) >= 0) { return 2; }
    return terms.every(function (t) { return title.indexOf(t) >= 0; }) ? 1 : 0;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    active = -1;
  }

  function show(items) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "Nothing matches “" + input.value.trim() + "”";
      list.appendChild(none);
    }
    items.forEach(function (i, position) {
      var entry = index[i];
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = entry.u;
      a.id = "search-result-" + position;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry.k;
      var title = document.createElement("span");
      title.className = "title";
      title.textContent = entry.t;
      a.appendChild(kind);
      a.appendChild(title);
      if (entry.d) {
        var what = document.createElement("span");
        what.className = "what";
        what.textContent = entry.d;
        a.appendChild(what);
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  function update() {
    var query = input.value.trim().toLowerCase();
    if (!query) { close(); return; }
    var terms = query.split(/\s+/);
    var found = [];
    for (var i = 0; i < index.length; i++) {
      var r = rank(i, terms, query);
      if (r >= 0) { found.push([r, i]); }
    }
    found.sort(function (a, b) {
      return b[0] - a[0] || index[a[1]].t.length - index[b[1]].t.length || a[1] - b[1];
    });
    show(found.slice(0, MAX).map(function (pair) { return pair[1]; }));
  }

  function move(step) {
    var links = list.querySelectorAll("a");
    if (!links.length) { return; }
    active = (active + step + links.length) % links.length;
    for (var i = 0; i < links.length; i++) {
      links[i].classList.toggle("active", i === active);
    }
    input.setAttribute("aria-activedescendant", links[active].id);
    links[active].scrollIntoView({block: "nearest"});
  }

  input.addEventListener("input", update);
  input.addEventListener("focus", function () { if (input.value.trim()) { update(); } });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Escape") { close(); input.blur(); }
    else if (event.key === "Enter") {
      var links = list.querySelectorAll("a");
      var target = links[active >= 0 ? active : 0];
      if (target) { window.location.href = target.getAttribute("href"); event.preventDefault(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { input.focus(); event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    if (!list.contains(event.target) && event.target !== input) { close(); }
  });
}());
