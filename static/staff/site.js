// Staff pages: small progressive enhancements, no dependencies.
// 1. The retailer switcher submits itself when another retailer is chosen.
// 2. [data-poll-url] elements refresh themselves from that URL every data-poll-interval ms
//    while the returned fragment still carries data-poll-url (a queued or running run); when it
//    stops, the page reloads once to show the finished report.
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
})();
