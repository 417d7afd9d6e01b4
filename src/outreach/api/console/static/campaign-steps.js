// The new-campaign form: add and remove step rows in place. Without this file the form's
// "Add a step row" button posts the form back with one more row, and an empty row is ignored.
"use strict";

(function () {
  var rows = document.getElementById("steps");
  var add = document.getElementById("add-step");
  if (!rows || !add) {
    return;
  }
  var maxSteps = parseInt(rows.getAttribute("data-max-steps") || "10", 10);

  function allRows() {
    return Array.prototype.slice.call(rows.querySelectorAll("[data-step-row]"));
  }

  // Rows are numbered in order: names, ids and labels follow the row's place.
  function renumber() {
    allRows().forEach(function (row, index) {
      var prefix = "steps-" + index;
      row.id = prefix;
      row.querySelector("legend").textContent = "Step " + (index + 1);
      ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
        row.querySelectorAll("[" + attribute + "]").forEach(function (element) {
          element.setAttribute(
            attribute,
            element.getAttribute(attribute).replace(/steps-\d+/g, prefix)
          );
        });
      });
      var remove = row.querySelector("button.remove-step");
      if (remove) {
        remove.textContent = "Remove step " + (index + 1);
        remove.hidden = allRows().length === 1;
      }
    });
    add.disabled = allRows().length >= maxSteps;
  }

  function withRemoveButton(row) {
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary remove-step";
    remove.addEventListener("click", function () {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      var focus = next && next.querySelector("select, input");
      if (focus) {
        focus.focus();
      }
    });
    row.appendChild(remove);
    return row;
  }

  allRows().forEach(withRemoveButton);

  add.textContent = "Add a step";
  add.addEventListener("click", function (event) {
    event.preventDefault();
    var last = allRows().pop();
    var row = last.cloneNode(true);
    row.querySelectorAll(".field-error").forEach(function (element) {
      element.remove();
    });
    row.querySelectorAll("[aria-invalid]").forEach(function (element) {
      element.removeAttribute("aria-invalid");
      element.removeAttribute("aria-describedby");
    });
    row.querySelectorAll("input").forEach(function (input) {
      input.value = "";
    });
    row.querySelectorAll("select").forEach(function (select) {
      select.selectedIndex = 0;
    });
    var removeButton = row.querySelector("button.remove-step");
    if (removeButton) {
      removeButton.remove();
    }
    rows.appendChild(withRemoveButton(row));
    renumber();
    var offset = row.querySelector("input");
    if (offset) {
      offset.value = last.querySelector("input").value || "0";
      offset.focus();
    }
  });

  renumber();
})();
