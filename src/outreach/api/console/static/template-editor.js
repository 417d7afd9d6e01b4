// The template editor's live feedback: while the author types, the draft goes (debounced, with
// the session's CSRF header) to /console/templates/check, which runs the check a save runs; each
// problem is shown with its variable, line and reason, its line is marked in the gutter, and an
// SMS body's cost is counted. Without this file the "Check" button gives the same answer.
"use strict";

(function () {
  var form = document.getElementById("template-editor");
  var consoleHelpers = window.outreachConsole;
  if (!form || !consoleHelpers) {
    return;
  }
  var body = form.elements.namedItem("body");
  var subject = form.elements.namedItem("subject");
  var whatsappName = form.elements.namedItem("whatsapp_template_name");
  var feedback = document.getElementById("policy-feedback");
  var counter = document.getElementById("sms-counter");
  var gutter = document.getElementById("body-gutter");
  var checkUrl = form.getAttribute("data-check-url");
  var familyOf = form.getAttribute("data-family-of");
  var sent = 0; // the latest request's number: older answers arriving late are dropped
  var flagged = {};

  function fieldValue(name) {
    var element = form.elements.namedItem(name);
    return element && typeof element.value === "string" ? element.value : "";
  }

  function channel() {
    return fieldValue("channel");
  }

  function element(tag, className, text) {
    var made = document.createElement(tag);
    if (className) {
      made.className = className;
    }
    if (text !== undefined) {
      made.textContent = text;
    }
    return made;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  // The gutter: one number per line of the body, a marked one where a problem sits.
  function drawGutter() {
    if (!gutter || !body) {
      return;
    }
    var count = body.value.split("\n").length;
    clear(gutter);
    for (var number = 1; number <= count; number += 1) {
      var span = element("span", flagged[number] ? "tpl-flagged" : "", String(number));
      gutter.appendChild(span);
    }
    gutter.scrollTop = body.scrollTop;
  }

  // Select a body line in the textarea, so the author lands on it.
  function goToLine(line) {
    var lines = body.value.split("\n");
    var start = 0;
    for (var index = 0; index < line - 1 && index < lines.length; index += 1) {
      start += lines[index].length + 1;
    }
    var end = start + (lines[line - 1] || "").length;
    body.focus();
    body.setSelectionRange(start, end);
  }

  function showMessage(className, text) {
    clear(feedback);
    feedback.appendChild(element("p", className, text));
  }

  function showProblems(answer) {
    flagged = {};
    clear(feedback);
    var problems = answer.problems || [];
    if (!problems.length) {
      feedback.appendChild(
        element("p", "ok", "No problems: the PHI policy accepts this template.")
      );
      drawGutter();
      return;
    }
    var noun = problems.length === 1 ? "problem" : "problems";
    feedback.appendChild(
      element(
        "p",
        "error",
        "The PHI policy refuses this template: " + problems.length + " " + noun + "."
      )
    );
    var list = element("ul", "tpl-problems");
    var anyPhi = false;
    problems.forEach(function (problem) {
      var item = element("li", "tpl-problem");
      item.appendChild(element("span", "tpl-where", problem.where));
      item.appendChild(document.createTextNode(" · "));
      item.appendChild(element("code", "tpl-variable", problem.variable));
      if (problem.phi) {
        anyPhi = true;
        item.appendChild(document.createTextNode(" "));
        item.appendChild(element("span", "badge refused", "PHI"));
      }
      item.appendChild(document.createTextNode(": "));
      item.appendChild(element("span", "tpl-reason", problem.reason));
      if (problem.surface === "body" && problem.line) {
        flagged[problem.line] = true;
        var go = element("button", "secondary", "Go to line " + problem.line);
        go.type = "button";
        go.addEventListener("click", function () {
          goToLine(problem.line);
        });
        item.appendChild(go);
      }
      list.appendChild(item);
    });
    feedback.appendChild(list);
    if (anyPhi) {
      var hint = element("p", "help", "PHI reaches the patient behind the signed portal link: write ");
      hint.appendChild(element("code", "", "{{ portal_link }}"));
      hint.appendChild(document.createTextNode(" instead of the detail."));
      feedback.appendChild(hint);
    }
    drawGutter();
  }

  function showCount(sms) {
    if (!counter) {
      return;
    }
    clear(counter);
    if (!sms) {
      counter.appendChild(
        element("p", "help", "The count appears as you type an SMS body (or press Check).")
      );
      return;
    }
    var line = element("p");
    line.appendChild(element("span", "tpl-count", sms.summary));
    line.appendChild(
      document.createTextNode(
        sms.for_sample
          ? " · for the sample patient, as sent"
          : " · the text as written (fix the problems to count the message as sent)"
      )
    );
    counter.appendChild(line);
    if (sms.over_limit) {
      counter.appendChild(
        element(
          "p",
          "error",
          "Over the limit of " + sms.limit +
            " segments for this purpose: the sender will refuse it. Shorten the text."
        )
      );
    } else {
      counter.appendChild(
        element("p", "help", "This purpose allows up to " + sms.limit + " segments.")
      );
    }
  }

  // Fields that belong to one channel only (subject: e-mail; approved name: WhatsApp).
  function showChannelFields() {
    var current = channel();
    var parts = document.querySelectorAll("[data-only-for]");
    for (var index = 0; index < parts.length; index += 1) {
      var part = parts[index];
      var elsewhere = part.getAttribute("data-only-for") !== current;
      part.hidden = elsewhere;
      // A hidden field is not sent either: the saved text is what the author sees.
      var inputs = part.querySelectorAll("input, textarea");
      for (var each = 0; each < inputs.length; each += 1) {
        inputs[each].disabled = elsewhere;
      }
    }
  }

  function draft() {
    var payload = {
      purpose: fieldValue("purpose"),
      channel: channel(),
      language: fieldValue("language"),
      // A field of another channel is hidden, not sent: the server would judge what it sees.
      subject: subject && channel() === "email" ? subject.value : "",
      body: body.value,
      whatsapp_template_name: whatsappName && channel() === "whatsapp" ? whatsappName.value : "",
    };
    if (familyOf) {
      payload.family_of = Number(familyOf);
    }
    return payload;
  }

  function check() {
    sent += 1;
    var mine = sent;
    if (!body.value.trim()) {
      // Nothing written yet: "the body is empty" would be noise, not feedback.
      flagged = {};
      showMessage("help", "Checked as you type (or press Check): each problem names the " +
        "variable, the line and why.");
      showCount(null);
      drawGutter();
      return;
    }
    consoleHelpers
      .postJson(checkUrl, draft())
      .then(function (answer) {
        if (mine !== sent) {
          return;
        }
        if (answer.status === 200) {
          showProblems(answer.body);
          showCount(answer.body.sms);
        } else if (answer.status === 401) {
          showMessage("error", "Your session has ended: sign in again to check and save.");
        } else {
          showMessage("error", "The draft could not be checked (" + answer.status +
            "); press Check to see why.");
        }
      })
      .catch(function () {
        if (mine === sent) {
          showMessage("error", "The check could not reach the server; press Check to try again.");
        }
      });
  }

  var checkSoon = consoleHelpers.debounce(check, 350);

  body.addEventListener("input", function () {
    drawGutter();
    checkSoon();
  });
  body.addEventListener("scroll", function () {
    if (gutter) {
      gutter.scrollTop = body.scrollTop;
    }
  });
  ["subject", "language", "whatsapp_template_name"].forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (field) {
      field.addEventListener("input", checkSoon);
    }
  });
  ["purpose", "channel"].forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (field && field.tagName === "SELECT") {
      field.addEventListener("change", function () {
        showChannelFields();
        check();
      });
    }
  });

  showChannelFields();
  // Set the gutter's marks from what the server rendered, then judge the text as it stands.
  var marked = gutter ? gutter.querySelectorAll(".tpl-flagged") : [];
  for (var index = 0; index < marked.length; index += 1) {
    flagged[Number(marked[index].textContent)] = true;
  }
  drawGutter();
  if (body.value.trim()) {
    check();
  }
})();
