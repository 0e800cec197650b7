"use strict";
(function () {
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return { num: null, text: "" }; }
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "") { return { num: parseFloat(v), text: "" }; }
    return { num: null, text: cell.textContent.trim() };
  }
  function sortTable(table, index, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var c;
      if (x.num !== null && y.num !== null) { c = x.num - y.num; }
      else if (x.num !== null) { return -1; }  // empty cells last either way
      else if (y.num !== null) { return 1; }
      else { c = x.text.localeCompare(y.text, undefined, { numeric: true }); }
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.title = "sort";
      th.addEventListener("click", function () { sortTable(table, index, th); });
    });
  });
  // A/B flicker: one picture slot shows the reference or the distorted image.
  document.querySelectorAll(".ab").forEach(function (box) {
    var imgs = box.querySelectorAll("img");
    var label = box.querySelector(".ab-label");
    var timer = null;
    function show(i) {
      imgs.forEach(function (img, k) { img.classList.toggle("hidden", k !== i); });
      if (label) { label.textContent = imgs[i].getAttribute("data-name"); }
      box.setAttribute("data-showing", String(i));
    }
    box.querySelector(".ab-toggle").addEventListener("click", function () {
      show(box.getAttribute("data-showing") === "0" ? 1 : 0);
    });
    box.querySelector(".ab-auto").addEventListener("change", function (e) {
      if (timer) { clearInterval(timer); timer = null; }
      if (e.target.checked) {
        timer = setInterval(function () {
          show(box.getAttribute("data-showing") === "0" ? 1 : 0);
        }, 500);
      }
    });
    show(0);
  });
})();
