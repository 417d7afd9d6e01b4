// Shared by every console page: the CSRF token for scripts' requests, and small helpers.
// Pages work without this file; it only makes them livelier.
"use strict";

window.outreachConsole = (function () {
  function csrfToken() {
    var main = document.getElementById("main");
    return main ? main.getAttribute("data-csrf") || "" : "";
  }

  // POST JSON to a console endpoint with the session's CSRF token; resolves to {status, body}.
  function postJson(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrfToken(),
      },
      body: JSON.stringify(payload),
    }).then(function (response) {
      return response.json().then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      });
  }

  // Call fn at most once per wait milliseconds after the last call (typing, clicking).
  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, wait);
    };
  }

  return { csrfToken: csrfToken, postJson: postJson, getJson: getJson, debounce: debounce };
})();
