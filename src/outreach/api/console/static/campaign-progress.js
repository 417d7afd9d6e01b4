// A campaign's page: its progress section fetches itself again every few seconds, and is
// replaced only when a figure changed (the section is an aria-live region: no needless
// announcements). Without this file the page has a Refresh link.
"use strict";

(function () {
  var region = document.getElementById("campaign-progress");
  if (!region || !window.fetch) {
    return;
  }
  var source = region.getAttribute("data-src");
  var every = parseInt(region.getAttribute("data-every") || "3000", 10);
  var refresh = document.getElementById("progress-refresh");
  var updated = document.getElementById("progress-updated");

  function current() {
    return region.querySelector("[data-digest]");
  }

  function say(text) {
    if (updated) {
      updated.textContent = text;
      updated.hidden = false;
    }
  }

  if (refresh) {
    refresh.hidden = true;
  }
  say("Updates by itself every " + Math.round(every / 1000) + " seconds.");

  function stop(text) {
    say(text);
    if (refresh) {
      refresh.hidden = false;
    }
  }

  function schedule() {
    window.setTimeout(poll, every);
  }

  function poll() {
    if (document.hidden) {
      schedule();
      return;
    }
    fetch(source, {
      credentials: "same-origin",
      redirect: "error",
      // HTML wanted; an error (the session ended) may come as JSON.
      headers: { "Accept": "text/html, application/json;q=0.1" },
    })
      .then(function (response) {
        if (!response.ok) {
          var error = new Error("progress unavailable");
          error.status = response.status;
          throw error;
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        var next = fresh.content.querySelector("[data-digest]");
        var before = current();
        if (next && (!before || before.getAttribute("data-digest") !== next.getAttribute("data-digest"))) {
          region.replaceChildren(fresh.content);
        }
        say("Updated at " + new Date().toLocaleTimeString() + "; updates by itself.");
        var badge = document.getElementById("campaign-state");
        var state = next && next.getAttribute("data-state");
        if (badge && state && badge.textContent !== state) {
          // The runner moved the campaign on (e.g. completed it): its buttons are stale.
          badge.textContent = state;
          badge.className = "badge " + state;
          if (refresh) {
            refresh.textContent = "Reload for the actions of a " + state + " campaign";
            refresh.hidden = false;
          }
        }
        if (next && next.getAttribute("data-final") === "true") {
          stop("This campaign is archived: its figures no longer change.");
          return;
        }
        schedule();
      })
      .catch(function (error) {
        if (error && (error.status === 401 || error.status === 403 || error.status === 404)) {
          stop("Progress stopped updating: reload the page (you may need to sign in again).");
          return;
        }
        say("Progress could not be fetched; trying again.");
        schedule();
      });
  }

  var first = current();
  if (!(first && first.getAttribute("data-final") === "true")) {
    schedule();
  }
})();
