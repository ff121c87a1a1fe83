// tokentrace dashboard: the only script. Served as a file (the CSP forbids inline script);
// it never inserts markup, only toggles classes and reloads.
(function () {
  'use strict';

  // Auto-refresh: listing pages carry data-version; reload when the store changes.
  var version = document.body.getAttribute('data-version');
  var live = document.getElementById('live');
  if (version && live) {
    live.checked = localStorage.getItem('tokentrace.live') === 'on';
    live.addEventListener('change', function () {
      localStorage.setItem('tokentrace.live', live.checked ? 'on' : 'off');
    });
    setInterval(function () {
      if (!live.checked || document.hidden) return;
      fetch('/api/changes', { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { if (j && j.version !== version) location.reload(); })
        .catch(function () {});
    }, 5000);
  }

  // Waterfall: highlight the row whose span detail is shown (#span-<id>).
  function select() {
    var id = location.hash.indexOf('#span-') === 0 ? location.hash.slice(6) : '';
    var rows = document.querySelectorAll('.wf-row');
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle('selected', rows[i].getAttribute('data-span-id') === id);
    }
    var hint = document.getElementById('span-hint');
    if (hint) hint.hidden = id !== '';
  }
  window.addEventListener('hashchange', select);
  select();
})();
