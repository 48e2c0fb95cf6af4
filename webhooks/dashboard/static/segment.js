// The segment builder's live count: the filters as typed go to clients/count, the answer replaces the count.
(function () {
  "use strict";
  var form = document.getElementById("segment-form");
  var out = document.getElementById("segment-count");
  if (!form || !out || !window.fetch) { return; }
  var timer = null, asked = 0;

  function count() {
    var query = new URLSearchParams();
    new FormData(form).forEach(function (value, name) { if (String(value).trim()) { query.append(name, value); } });
    var mine = ++asked;
    out.textContent = form.dataset.counting;
    fetch(form.dataset.countUrl + "?" + query.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (mine !== asked) { return; }  // a later count is on its way
        out.classList.toggle("bad", !!body.error);
        out.textContent = body.error ? body.error : form.dataset.countText.replace("{n}", body.count);
        out.dataset.count = body.error ? "" : String(body.count);
      })
      .catch(function () { if (mine === asked) { out.textContent = ""; } });
  }

  function later() { clearTimeout(timer); timer = setTimeout(count, 300); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
