// tokentrace dashboard: the only script. Served as a file (the CSP forbids inline script);
// it never inserts markup, only toggles classes and reloads.
(function () {
  'use strict';
  document.documentElement.classList.add('js');

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

  var rows = document.querySelectorAll('.wf-row');

  // Waterfall: rows beneath a collapsed row are hidden (rows are in tree order).
  function layout() {
    var hideBelow = Infinity;
    for (var i = 0; i < rows.length; i++) {
      var depth = Number(rows[i].getAttribute('data-depth'));
      if (depth > hideBelow) {
        rows[i].classList.add('hidden');
        continue;
      }
      hideBelow = rows[i].classList.contains('collapsed') ? depth : Infinity;
      rows[i].classList.remove('hidden');
    }
  }
  function setCollapsed(row, on) {
    row.classList.toggle('collapsed', on);
    var b = row.querySelector('.twisty');
    if (b) b.setAttribute('aria-expanded', on ? 'false' : 'true');
  }
  Array.prototype.forEach.call(rows, function (row) {
    var b = row.querySelector('.twisty');
    if (!b) return;
    b.addEventListener('click', function () {
      setCollapsed(row, !row.classList.contains('collapsed'));
      layout();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('.wf-all'), function (b) {
    b.addEventListener('click', function () {
      var all = b.getAttribute('data-collapse') === 'all';
      for (var i = 0; i < rows.length; i++) {
        // Collapsing all keeps the root open: its direct children stay visible.
        var d = Number(rows[i].getAttribute('data-depth'));
        if (rows[i].querySelector('.twisty')) setCollapsed(rows[i], all && d > 0);
      }
      layout();
    });
  });

  // Highlight the row whose span detail is shown (#span-<id>).
  function select() {
    var id = location.hash.indexOf('#span-') === 0 ? location.hash.slice(6) : '';
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle('selected', rows[i].getAttribute('data-span-id') === id);
    }
    var hint = document.getElementById('span-hint');
    if (hint) hint.hidden = id !== '';
  }
  window.addEventListener('hashchange', select);
  select();
  layout();
})();
