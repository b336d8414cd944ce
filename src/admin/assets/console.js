// Live counters on the overview: refreshed every two seconds from /admin/counters.json.
// (A file, not an inline script: the console's Content-Security-Policy allows 'self' only.)
(function () {
  var fields = document.querySelectorAll('[data-counter]');
  if (!fields.length) return;
  function refresh() {
    fetch('/admin/counters.json', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counters) {
        if (!counters) return;
        fields.forEach(function (el) {
          var value = counters[el.getAttribute('data-counter')];
          if (value !== undefined) el.textContent = String(value);
        });
      })
      .catch(function () {});
  }
  setInterval(refresh, 2000);
})();
