// Staff pages: small progressive enhancements, no dependencies.
// 1. The retailer switcher submits itself when another retailer is chosen.
// 2. [data-poll-url] elements refresh themselves from that URL every data-poll-interval ms
//    while the returned fragment still carries data-poll-url (a queued or running run); when it
//    stops, the page reloads once to show the finished report.
// 3. A table wider than its wrapper (a phone, a half-width card) becomes a list of cards: every
//    cell is labelled with its column's header (data-label, shown by site.css) and the table gets
//    the class "stacked". Without JavaScript the wrapper scrolls sideways instead.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    var button = select.form.querySelector("[data-autosubmit-button]");
    if (button) { button.hidden = true; }
  });

  function poll(element) {
    var url = element.getAttribute("data-poll-url");
    var interval = parseInt(element.getAttribute("data-poll-interval") || "3000", 10);
    window.setTimeout(function () {
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.firstElementChild;
          if (!fresh) { return; }
          element.replaceWith(fresh);
          if (fresh.hasAttribute("data-poll-url")) { poll(fresh); } else { window.location.reload(); }
        })
        .catch(function () { window.setTimeout(function () { poll(element); }, interval * 3); });
    }, interval);
  }
  document.querySelectorAll("[data-poll-url]").forEach(poll);

  function label(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, i) {
          if (heads[i] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", heads[i].textContent.trim());
          }
        });
      });
    });
  }
  var tables = document.querySelectorAll(".table-wrap > table");
  function fit() {
    tables.forEach(function (table) {
      table.classList.remove("stacked");
      if (table.scrollWidth > table.parentElement.clientWidth + 1) { table.classList.add("stacked"); }
    });
  }
  tables.forEach(label);
  fit();
  var pending;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(fit, 100);
  });
})();
