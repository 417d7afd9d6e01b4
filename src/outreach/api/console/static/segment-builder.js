// The segment editor's rule builder: the JSON Logic rule of the textarea "Rule as JSON Logic"
// shown as a tree of groups (all of / any of / none of) and conditions (field, operator, value),
// built by clicking. Every change in the tree rewrites the textarea; a valid edit of the textarea
// redraws the tree. The textarea stays the form's field, so the page works without this file.
//
// The tree knows a few condition shapes (below); anything else stays a "written as JSON"
// condition holding its JSON as it was, so reading a rule and writing it back never changes it.
// The server checks the rule (the same check as saving) on each change: each problem's JSON
// Pointer is mapped to the node and control it points into, which is marked there.
"use strict";

(function () {
  var container = document.getElementById("segment-builder");
  var textarea = document.getElementById("definition");
  var oc = window.outreachConsole;
  if (!container || !textarea || !oc) {
    return;
  }

  var PREVIEW_URL = "/console/segments/preview";
  var EVENT_COUNT = "#event_count"; // pseudo-fields: domain operators offered as fields
  var IN_SEGMENT = "#in_segment";

  function readData(name, fallback) {
    try {
      return JSON.parse(container.getAttribute(name) || "");
    } catch (ignored) {
      return fallback;
    }
  }

  var catalogue = readData("data-catalogue", []);
  var savedSegments = readData("data-segments", []);
  var statuses = readData("data-statuses", ["booked", "cancelled", "no_show", "attended"]);
  var initialProblems = readData("data-problems", []);
  var segmentId = container.getAttribute("data-segment-id");
  var fields = {};
  catalogue.forEach(function (field) { fields[field.name] = field; });

  // Operators offered for each kind of field; "value" says which inputs the operator needs.
  var COMPARISONS = ["==", "!=", ">", ">=", "<", "<="];
  var OPERATORS = {
    string: [
      { id: "==", label: "is", value: "text" },
      { id: "!=", label: "is not", value: "text" },
      { id: "in", label: "is one of", value: "list" },
      { id: "contains", label: "contains", value: "text" },
      { id: "missing", label: "is missing", value: "none" },
      { id: "present", label: "is present", value: "none" },
    ],
    number: [
      { id: "==", label: "equals", value: "number" },
      { id: "!=", label: "does not equal", value: "number" },
      { id: ">", label: "is more than", value: "number" },
      { id: ">=", label: "is at least", value: "number" },
      { id: "<", label: "is less than", value: "number" },
      { id: "<=", label: "is at most", value: "number" },
      { id: "between", label: "is between", value: "range" },
      { id: "in", label: "is one of", value: "list" },
      { id: "missing", label: "is missing", value: "none" },
      { id: "present", label: "is present", value: "none" },
    ],
    boolean: [
      { id: "true", label: "is true", value: "none" },
      { id: "false", label: "is false (or missing)", value: "none" },
      { id: "missing", label: "is missing", value: "none" },
      { id: "present", label: "is present", value: "none" },
    ],
    date: [
      { id: "ago_at_least", label: "was at least … days ago", value: "days" },
      { id: "ago_within", label: "was within the last … days", value: "days" },
      { id: "ahead_within", label: "is within the next … days", value: "days" },
      { id: "ahead_beyond", label: "is more than … days ahead", value: "days" },
      { id: "missing", label: "is missing", value: "none" },
      { id: "present", label: "is present", value: "none" },
    ],
    event_count: [
      { id: ">=", label: "at least", value: "number" },
      { id: "<=", label: "at most", value: "number" },
      { id: "==", label: "exactly", value: "number" },
      { id: ">", label: "more than", value: "number" },
      { id: "<", label: "fewer than", value: "number" },
    ],
    in_segment: [
      { id: "in", label: "is in", value: "segment" },
      { id: "not_in", label: "is not in", value: "segment" },
    ],
  };
  var DATE_OPERATORS = {
    ago_at_least: { op: ">=", days: "days_since", between: false },
    ago_within: { op: "<=", days: "days_since", between: true },
    ahead_within: { op: "<=", days: "days_until", between: true },
    ahead_beyond: { op: ">", days: "days_until", between: false },
  };

  // ---- the model: groups, conditions, and conditions kept as JSON ----

  var nextId = 1;
  function newId() { return "sb" + nextId++; }

  function newGroup(mode, children, implicit) {
    return { kind: "group", id: newId(), mode: mode, children: children, implicit: !!implicit };
  }

  function kindOf(fieldName) {
    if (fieldName === EVENT_COUNT) { return "event_count"; }
    if (fieldName === IN_SEGMENT) { return "in_segment"; }
    return fields[fieldName] ? fields[fieldName].type : "string";
  }

  function newCondition(fieldName) {
    var name = fieldName || (catalogue.length ? catalogue[0].name : EVENT_COUNT);
    return {
      kind: "condition", id: newId(), field: name, op: OPERATORS[kindOf(name)][0].id,
      value: "", value2: "", status: statuses[0], days: "",
    };
  }

  function operatorOf(node) {
    var list = OPERATORS[kindOf(node.field)];
    for (var i = 0; i < list.length; i++) {
      if (list[i].id === node.op) { return list[i]; }
    }
    return list[0];
  }

  function isOperation(value, name) {
    return value !== null && typeof value === "object" && !Array.isArray(value) &&
      Object.keys(value).length === 1 && (name === undefined || name in value);
  }

  function fieldOf(value) {
    return isOperation(value, "var") && typeof value["var"] === "string" ? value["var"] : null;
  }

  // A number typed in a text box: a number when it reads as one, else the text as typed (the
  // server then says, at this node, that a number was wanted).
  function numberOf(text) {
    var trimmed = String(text).trim();
    return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(trimmed) ? Number(trimmed) : text;
  }

  function wholeNumberOf(text) {
    var trimmed = String(text).trim();
    return /^-?\d+$/.test(trimmed) ? Number(trimmed) : text;
  }

  function textOf(value) {
    if (typeof value === "string") { return value; }
    if (typeof value === "number") { return String(value); }
    return null;
  }

  function listOf(text, kind) {
    return String(text).split(",").map(function (item) { return item.trim(); })
      .filter(function (item) { return item !== ""; })
      .map(function (item) { return kind === "number" ? numberOf(item) : item; });
  }

  // The JSON Logic of one condition, and which control each part of it belongs to (paths
  // relative to the condition's own pointer).
  function conditionLogic(node) {
    var kind = kindOf(node.field);
    var variable = { "var": node.field };
    var op = node.op;
    if (op === "missing") { return [{ "===": [variable, null] }, [["field", ["===", 0]]]]; }
    if (op === "present") { return [{ "!==": [variable, null] }, [["field", ["!==", 0]]]]; }
    if (kind === "boolean") {
      return op === "false" ? [{ "!": variable }, [["field", ["!"]]]] : [variable, [["field", []]]];
    }
    if (kind === "in_segment") {
      var reference = { in_segment: wholeNumberOf(node.value) };
      return op === "not_in"
        ? [{ "!": reference }, [["segment", ["!", "in_segment"]]]]
        : [reference, [["segment", ["in_segment"]]]];
    }
    if (kind === "event_count") {
      var counted = { event_count: [node.status, wholeNumberOf(node.days)] };
      var logic = {};
      logic[op] = [counted, numberOf(node.value)];
      return [logic, [
        ["status", [op, 0, "event_count", 0]], ["days", [op, 0, "event_count", 1]],
        ["op", [op, 0]], ["value", [op, 1]],
      ]];
    }
    if (kind === "date") {
      var shape = DATE_OPERATORS[op];
      var days = {};
      days[shape.days] = variable;
      if (shape.between) {
        return [{ "<=": [0, days, numberOf(node.value)] },
          [["op", ["<="]], ["field", ["<=", 1]], ["value", ["<=", 2]]]];
      }
      var compared = {};
      compared[shape.op] = [days, numberOf(node.value)];
      return [compared, [["field", [shape.op, 0]], ["value", [shape.op, 1]]]];
    }
    var typed = kind === "number" ? numberOf : function (text) { return text; };
    if (op === "between") {
      return [{ "<=": [typed(node.value), variable, typed(node.value2)] },
        [["value", ["<=", 0]], ["field", ["<=", 1]], ["value2", ["<=", 2]]]];
    }
    if (op === "in") {
      return [{ "in": [variable, listOf(node.value, kind)] },
        [["field", ["in", 0]], ["value", ["in", 1]]]];
    }
    if (op === "contains") {
      return [{ "in": [node.value, variable] }, [["value", ["in", 0]], ["field", ["in", 1]]]];
    }
    var plain = {};
    plain[op] = [variable, typed(node.value)];
    return [plain, [["field", [op, 0]], ["value", [op, 1]]]];
  }

  // A condition of a known shape, or null (then it is kept as JSON).
  function readCondition(rule) {
    if (!isOperation(rule)) { return null; }
    var key = Object.keys(rule)[0];
    var args = rule[key];
    var node = newCondition();
    var name = fieldOf(rule);
    if (name !== null) {
      return Object.assign(node, { field: name, op: "true" });
    }
    if (key === "!" && fieldOf(args) !== null) {
      return Object.assign(node, { field: fieldOf(args), op: "false" });
    }
    if (key === "in_segment" || (key === "!" && isOperation(args, "in_segment"))) {
      var id = key === "!" ? args.in_segment : args;
      return Object.assign(node, {
        field: IN_SEGMENT, op: key === "!" ? "not_in" : "in", value: textOf(id) || "",
      });
    }
    if (!Array.isArray(args)) { return null; }
    if ((key === "===" || key === "!==") && args.length === 2 && args[1] === null &&
        fieldOf(args[0]) !== null) {
      return Object.assign(node, { field: fieldOf(args[0]), op: key === "===" ? "missing" : "present" });
    }
    if (key === "in" && args.length === 2) {
      if (fieldOf(args[0]) !== null && Array.isArray(args[1])) {
        var items = args[1].map(textOf);
        if (items.indexOf(null) >= 0) { return null; }
        return Object.assign(node, { field: fieldOf(args[0]), op: "in", value: items.join(", ") });
      }
      if (typeof args[0] === "string" && fieldOf(args[1]) !== null) {
        return Object.assign(node, { field: fieldOf(args[1]), op: "contains", value: args[0] });
      }
      return null;
    }
    if (COMPARISONS.indexOf(key) < 0) { return null; }
    if (args.length === 3 && key === "<=") {
      if (fieldOf(args[1]) !== null && textOf(args[0]) !== null && textOf(args[2]) !== null) {
        return Object.assign(node, {
          field: fieldOf(args[1]), op: "between", value: textOf(args[0]), value2: textOf(args[2]),
        });
      }
      var within = readDays(args[1]);
      if (args[0] === 0 && within && textOf(args[2]) !== null) {
        return Object.assign(node, {
          field: within[1], op: within[0] === "days_since" ? "ago_within" : "ahead_within",
          value: textOf(args[2]),
        });
      }
      return null;
    }
    if (args.length !== 2 || textOf(args[1]) === null) { return null; }
    if (fieldOf(args[0]) !== null) {
      return Object.assign(node, { field: fieldOf(args[0]), op: key, value: textOf(args[1]) });
    }
    var since = readDays(args[0]);
    if (since) {
      var op = since[0] === "days_since" && key === ">=" ? "ago_at_least"
        : since[0] === "days_until" && key === ">" ? "ahead_beyond" : null;
      return op ? Object.assign(node, { field: since[1], op: op, value: textOf(args[1]) }) : null;
    }
    if (isOperation(args[0], "event_count") && Array.isArray(args[0].event_count) &&
        args[0].event_count.length === 2) {
      var counted = args[0].event_count;
      return Object.assign(node, {
        field: EVENT_COUNT, op: key, status: counted[0], days: textOf(counted[1]) || "",
        value: textOf(args[1]),
      });
    }
    return null;
  }

  function readDays(value) {
    var key = isOperation(value) ? Object.keys(value)[0] : null;
    if ((key === "days_since" || key === "days_until") && fieldOf(value[key]) !== null) {
      return [key, fieldOf(value[key])];
    }
    return null;
  }

  function conditionFits(node) {
    var kind = kindOf(node.field);
    if (kind !== "event_count" && kind !== "in_segment" && !fields[node.field]) { return false; }
    if (kind === "event_count" && statuses.indexOf(node.status) < 0) { return false; }
    return OPERATORS[kind].some(function (o) { return o.id === node.op; });
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function readNode(rule) {
    if (isOperation(rule, "and") || isOperation(rule, "or")) {
      var key = Object.keys(rule)[0];
      if (Array.isArray(rule[key])) { return newGroup(key, rule[key].map(readNode)); }
    }
    if (isOperation(rule, "!") && isOperation(rule["!"], "or") && Array.isArray(rule["!"].or)) {
      return newGroup("none", rule["!"].or.map(readNode));
    }
    var node = readCondition(rule);
    // Only a condition written back exactly as it was read is shown as a form.
    if (node && conditionFits(node) && same(conditionLogic(node)[0], rule)) { return node; }
    return { kind: "custom", id: newId(), rule: rule };
  }

  function readRule(rule) {
    var node = readNode(rule);
    return node.kind === "group" ? node : newGroup("and", [node], true);
  }

  // ---- writing the model as JSON Logic, noting each node's pointer ----

  function pointerTo(base, steps) {
    return steps.reduce(function (pointer, step) {
      return pointer + "/" + String(step).replace(/~/g, "~0").replace(/\//g, "~1");
    }, base);
  }

  function writeNode(node, pointer) {
    node.pointer = pointer;
    if (node.kind === "custom") {
      node.controls = [["json", pointer]];
      return node.rule;
    }
    if (node.kind === "condition") {
      var written = conditionLogic(node);
      node.controls = written[1].map(function (c) { return [c[0], pointerTo(pointer, c[1])]; });
      return written[0];
    }
    node.controls = [["mode", pointer]];
    if (node.implicit && node.mode === "and" && node.children.length === 1) {
      return writeNode(node.children[0], pointer);
    }
    var steps = node.mode === "none" ? ["!", "or"] : [node.mode];
    var children = node.children.map(function (child, index) {
      return writeNode(child, pointerTo(pointer, steps.concat([index])));
    });
    return node.mode === "none" ? { "!": { or: children } } : (function () {
      var group = {};
      group[node.mode] = children;
      return group;
    })();
  }

  var root = newGroup("and", []);

  function eachNode(node, visit) {
    visit(node);
    if (node.kind === "group") {
      node.children.forEach(function (child) { eachNode(child, visit); });
    }
  }

  function findParent(target, node) {
    node = node || root;
    if (node.kind !== "group") { return null; }
    for (var i = 0; i < node.children.length; i++) {
      if (node.children[i] === target) { return node; }
      var found = findParent(target, node.children[i]);
      if (found) { return found; }
    }
    return null;
  }

  function findNode(id) {
    var found = null;
    eachNode(root, function (node) { if (node.id === id) { found = node; } });
    return found;
  }

  // ---- drawing the tree ----

  function el(tag, attributes, children) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { element.textContent = value; } else { element.setAttribute(name, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) { if (child) { element.appendChild(child); } });
    return element;
  }

  function control(label, input, wide) {
    return el("div", { "class": "sb-control" + (wide ? " sb-wide" : "") }, [
      el("label", { "for": input.id, text: label }), input,
    ]);
  }

  function textInput(node, role, numeric) {
    var input = el("input", {
      type: "text", id: node.id + "-" + role, "data-node": node.id, "data-role": role,
      inputmode: numeric ? "decimal" : null, autocomplete: "off",
    });
    input.value = node[role];
    return input;
  }

  function select(node, role, options, chosen) {
    var element = el("select", { id: node.id + "-" + role, "data-node": node.id, "data-role": role });
    options.forEach(function (option) {
      if (option.group) {
        element.appendChild(el("optgroup", { label: option.group },
          option.options.map(function (o) { return el("option", { value: o.value, text: o.label, selected: o.value === chosen }); })));
      } else {
        element.appendChild(el("option", { value: option.value, text: option.label, selected: option.value === chosen }));
      }
    });
    return element;
  }

  function fieldOptions(node) {
    var groups = [];
    var byGroup = {};
    catalogue.forEach(function (field) {
      if (!byGroup[field.group]) {
        byGroup[field.group] = { group: field.group, options: [] };
        groups.push(byGroup[field.group]);
      }
      byGroup[field.group].options.push({ value: field.name, label: field.name });
    });
    var others = [{ value: EVENT_COUNT, label: "appointments counted by status" }];
    if (savedSegments.length || node.field === IN_SEGMENT) {
      others.push({ value: IN_SEGMENT, label: "membership of a saved segment" });
    }
    groups.push({ group: "Domain operators", options: others });
    return groups;
  }

  function fieldHelp(node) {
    if (node.field === EVENT_COUNT) {
      return "How many of the patient's appointments had this status in the last days given.";
    }
    if (node.field === IN_SEGMENT) {
      return "Whether the patient is in another saved segment of your organisation.";
    }
    var field = fields[node.field];
    return field ? field.description + " (" + field.type + ")" : "";
  }

  function drawCondition(node, label) {
    var kind = kindOf(node.field);
    var operator = operatorOf(node);
    var row = [];
    var fieldSelect = select(node, "field", fieldOptions(node), node.field);
    fieldSelect.setAttribute("aria-describedby", node.id + "-help");
    row.push(control("Field", fieldSelect, true));
    var operators = OPERATORS[kind].map(function (o) { return { value: o.id, label: o.label }; });
    if (kind === "event_count") {
      row.push(control("Status", select(node, "status", statuses.map(function (s) {
        return { value: s, label: s.replace("_", "-") };
      }), node.status)));
      row.push(control("In the last … days", textInput(node, "days", true)));
      row.push(control("Operator", select(node, "op", operators, node.op)));
      row.push(control("Count", textInput(node, "value", true)));
    } else {
      row.push(control("Operator", select(node, "op", operators, node.op), true));
      if (operator.value === "range") {
        row.push(control("From", textInput(node, "value", kind === "number")));
        row.push(control("To", textInput(node, "value2", kind === "number")));
      } else if (operator.value === "list") {
        row.push(control("Values, separated by commas", textInput(node, "value", false), true));
      } else if (operator.value === "days") {
        row.push(control("Days", textInput(node, "value", true)));
      } else if (operator.value === "segment") {
        var choices = [{ value: "", label: "Choose a segment" }].concat(savedSegments.map(function (s) {
          return { value: String(s.id), label: s.name };
        }));
        if (node.value && !savedSegments.some(function (s) { return String(s.id) === node.value; })) {
          choices.push({ value: node.value, label: "segment " + node.value });
        }
        row.push(control("Segment", select(node, "segment", choices, node.value), true));
      } else if (operator.value !== "none") {
        row.push(control("Value", textInput(node, "value", kind === "number")));
      }
    }
    return el("fieldset", { "class": "sb-condition", id: node.id }, [
      el("legend", { text: label }),
      el("div", { "class": "sb-row" }, row),
      el("p", { "class": "help sb-help", id: node.id + "-help", text: fieldHelp(node) }),
      el("ul", { "class": "sb-errors", id: node.id + "-errors", hidden: true }),
      removeButton(node, label),
    ]);
  }

  function drawCustom(node, label) {
    var area = el("textarea", {
      id: node.id + "-json", "class": "code", rows: "3", spellcheck: "false",
      "data-node": node.id, "data-role": "json", "aria-describedby": node.id + "-about",
    });
    area.value = JSON.stringify(node.rule);
    return el("fieldset", { "class": "sb-condition sb-custom", id: node.id }, [
      el("legend", { text: label + " (written as JSON)" }),
      control("JSON Logic", area, true),
      el("p", { "class": "help", id: node.id + "-about",
        text: "The builder has no form for this condition: edit its JSON here or in the rule." }),
      el("p", { "class": "error", id: node.id + "-json-error", hidden: true }),
      el("ul", { "class": "sb-errors", id: node.id + "-errors", hidden: true }),
      removeButton(node, label),
    ]);
  }

  function removeButton(node, label) {
    return el("div", { "class": "sb-actions" }, [
      el("button", {
        type: "button", "class": "secondary", "data-action": "remove", "data-node": node.id,
        "aria-label": "Remove " + label.charAt(0).toLowerCase() + label.slice(1), text: "Remove",
      }),
    ]);
  }

  function drawGroup(node, label, number) {
    var isRoot = node === root;
    var mode = select(node, "mode", [
      { value: "and", label: "all of these" },
      { value: "or", label: "any of these" },
      { value: "none", label: "none of these" },
    ], node.mode);
    var items = node.children.map(function (child, index) {
      var childNumber = (number ? number + "." : "") + (index + 1);
      var drawn = child.kind === "group" ? drawGroup(child, "Group " + childNumber, childNumber)
        : child.kind === "custom" ? drawCustom(child, "Condition " + childNumber)
          : drawCondition(child, "Condition " + childNumber);
      return el("li", {}, [drawn]);
    });
    var suffix = isRoot ? "" : " to " + label.charAt(0).toLowerCase() + label.slice(1);
    var actions = [
      el("button", { type: "button", "data-action": "add-condition", "data-node": node.id,
        "aria-label": "Add condition" + suffix, text: "Add condition" }),
      el("button", { type: "button", "class": "secondary", "data-action": "add-group",
        "data-node": node.id, "aria-label": "Add group" + suffix, text: "Add group" }),
    ];
    if (!isRoot) {
      actions.push(el("button", { type: "button", "class": "secondary", "data-action": "remove",
        "data-node": node.id, "aria-label": "Remove " + label.charAt(0).toLowerCase() + label.slice(1),
        text: "Remove" }));
    }
    return el("fieldset", { "class": "sb-group" + (isRoot ? " sb-root" : ""), id: node.id }, [
      el("legend", { text: label }),
      el("div", { "class": "sb-row" }, [control("Match", mode)]),
      el("ul", { "class": "sb-errors", id: node.id + "-errors", hidden: true }),
      items.length ? el("ol", { "class": "sb-children" }, items)
        : el("p", { "class": "help", text: "No conditions yet: add one." }),
      el("div", { "class": "sb-actions" }, actions),
    ]);
  }

  function draw(focusId) {
    var active = focusId || (document.activeElement && container.contains(document.activeElement)
      ? document.activeElement.id : null);
    container.replaceChildren(
      el("h3", { "class": "visually-hidden", text: "Rule builder" }),
      drawGroup(root, "Rule", "")
    );
    var focused = active && document.getElementById(active);
    if (focused) { focused.focus(); }
    clearProblems(); // they pointed into the old tree; the next count says what still holds
  }

  // ---- problems at their nodes ----

  var summaryBox = document.getElementById("segment-problems");
  var problemList = document.getElementById("rule-problem-list");
  var summaryHeading = document.getElementById("segment-problems-heading");
  var fieldErrorList = document.getElementById("field-error-list");
  var rawProblems = document.getElementById("definition-problems");
  var jsonError = document.getElementById("definition-error");

  function within(prefix, pointer) {
    return prefix === "" || pointer === prefix || pointer.indexOf(prefix + "/") === 0;
  }

  function clearProblems() {
    container.querySelectorAll("[aria-invalid]").forEach(function (element) {
      element.removeAttribute("aria-invalid");
      element.setAttribute("aria-describedby", element.getAttribute("data-describedby") || "");
      if (!element.getAttribute("aria-describedby")) { element.removeAttribute("aria-describedby"); }
    });
    container.querySelectorAll(".sb-errors").forEach(function (list) {
      list.replaceChildren();
      list.hidden = true;
    });
    container.querySelectorAll(".sb-invalid").forEach(function (node) {
      node.classList.remove("sb-invalid");
    });
    problemList.replaceChildren();
    summaryBox.hidden = !fieldErrorList.children.length;
  }

  function controlFor(node, pointer) {
    var best = null;
    node.controls.forEach(function (c) {
      if (within(c[1], pointer) && (!best || c[1].length > best[1].length)) { best = c; }
    });
    var role = best ? best[0] : node.controls.length ? node.controls[0][0] : "field";
    if (node.kind === "condition" && role !== "field" && !document.getElementById(node.id + "-" + role)) {
      role = "field";
    }
    return document.getElementById(node.id + "-" + role);
  }

  function showProblems(problems) {
    clearProblems();
    problems.forEach(function (problem) {
      var pointer = problem.pointer || "";
      var target = root;
      eachNode(root, function (node) {
        if (node.pointer !== undefined && within(node.pointer, pointer) &&
            node.pointer.length >= target.pointer.length) {
          target = node;
        }
      });
      var box = document.getElementById(target.id);
      var list = document.getElementById(target.id + "-errors");
      var input = controlFor(target, pointer);
      if (!box || !list || !input) { return; }
      box.classList.add("sb-invalid");
      list.appendChild(el("li", { text: problem.message }));
      list.hidden = false;
      if (!input.hasAttribute("data-describedby")) {
        input.setAttribute("data-describedby", input.getAttribute("aria-describedby") || "");
      }
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby",
        ((input.getAttribute("data-describedby") || "") + " " + list.id).trim());
      var legend = box.querySelector("legend");
      problemList.appendChild(el("li", {}, [
        el("a", { href: "#" + input.id, text: (legend ? legend.textContent + ": " : "") + problem.message }),
      ]));
    });
    summaryBox.hidden = !problems.length && !fieldErrorList.children.length;
    summaryHeading.textContent = problems.length ? "The rule cannot be used yet" : "Please check the form";
  }

  // ---- the live count ----

  var countRegion = document.getElementById("member-count");
  var sampleBox = document.getElementById("member-sample");
  var sampleRows = document.getElementById("member-sample-rows");
  var countButton = document.getElementById("count-members");
  var requestNumber = 0;

  function say(text) {
    countRegion.textContent = text;
  }

  function incomplete() {
    var missing = false;
    eachNode(root, function (node) {
      if (node.kind !== "condition") { return; }
      var needs = operatorOf(node).value;
      if (kindOf(node.field) === "event_count") {
        missing = missing || !String(node.days).trim() || !String(node.value).trim();
      } else if (needs === "range") {
        missing = missing || !String(node.value).trim() || !String(node.value2).trim();
      } else if (needs !== "none") {
        missing = missing || !String(node.value).trim();
      }
    });
    return missing;
  }

  function showSample(sample) {
    sampleRows.replaceChildren.apply(sampleRows, sample.map(function (patient) {
      return el("tr", {}, [patient.patient_id, patient.initials, patient.email, patient.phone].map(
        function (value) { return el("td", { text: value || "none" }); }));
    }));
    sampleBox.hidden = !sample.length;
  }

  function count() {
    var mine = ++requestNumber;
    var rule;
    if (!textarea.value.trim() || root.children.length === 0) {
      say("Add a condition to count members.");
      showSample([]);
      return;
    }
    try {
      rule = JSON.parse(textarea.value);
    } catch (ignored) {
      return; // the JSON's own error is shown beside it
    }
    if (incomplete()) {
      clearProblems();
      say("Fill in every condition's value to count members.");
      showSample([]);
      return;
    }
    countRegion.setAttribute("aria-busy", "true");
    var payload = { definition: rule };
    if (segmentId) { payload.segment_id = Number(segmentId); }
    oc.postJson(PREVIEW_URL, payload).then(function (answer) {
      if (mine !== requestNumber) { return; } // the rule changed meanwhile
      countRegion.removeAttribute("aria-busy");
      if (answer.status === 200) {
        clearProblems();
        var n = answer.body.patient_count;
        say(n === 1 ? "1 patient matches this rule." : n.toLocaleString("en") + " patients match this rule.");
        showSample(answer.body.sample || []);
      } else if (answer.status === 422 && Array.isArray(answer.body.detail) && answer.body.error !== "validation_error") {
        showProblems(answer.body.detail);
        var problems = answer.body.detail.length;
        say("No count: the rule has " + (problems === 1 ? "a problem" : problems + " problems") +
          ", marked in the builder.");
        showSample([]);
      } else if (answer.status === 401) {
        say("Your session has ended: sign in again to count members.");
      } else {
        say("The count is not available right now.");
      }
    }).catch(function () {
      if (mine !== requestNumber) { return; }
      countRegion.removeAttribute("aria-busy");
      say("The count is not available right now.");
    });
  }

  var countSoon = oc.debounce(count, 450);

  // ---- keeping the tree and the textarea in step ----

  function setJsonError(message) {
    jsonError.textContent = message || "";
    jsonError.hidden = !message;
    var described = ["definition-help"];
    if (message) {
      described.push("definition-error");
      textarea.setAttribute("aria-invalid", "true");
    } else {
      textarea.removeAttribute("aria-invalid");
    }
    textarea.setAttribute("aria-describedby", described.join(" "));
  }

  // The tree changed: rewrite the textarea, and count again soon.
  function treeChanged() {
    textarea.value = JSON.stringify(writeNode(root, ""), null, 2);
    setJsonError(null);
    requestNumber++;
    countSoon();
  }

  function jsonProblem(error, text) {
    var position = /position (\d+)/.exec(error && error.message || "");
    if (!position) { return "The JSON is not valid."; }
    var before = text.slice(0, Number(position[1])).split("\n");
    return "The JSON is not valid: line " + before.length + ", column " +
      (before[before.length - 1].length + 1) + ".";
  }

  function textChanged() {
    var text = textarea.value;
    requestNumber++;
    if (!text.trim()) {
      root = newGroup("and", []);
      setJsonError(null);
    } else {
      try {
        root = readRule(JSON.parse(text));
        setJsonError(null);
      } catch (error) {
        setJsonError(jsonProblem(error, text));
        say("The count waits for valid JSON.");
        return;
      }
    }
    writeNode(root, "");
    draw();
    clearProblems();
    countSoon();
  }

  function onControl(event) {
    var target = event.target;
    var node = findNode(target.getAttribute("data-node"));
    var role = target.getAttribute("data-role");
    if (!node || !role) { return; }
    if (role === "json") {
      try {
        node.rule = JSON.parse(target.value);
        setLocalError(node, null);
      } catch (error) {
        setLocalError(node, jsonProblem(error, target.value));
        return;
      }
      treeChanged();
      return;
    }
    if (role === "mode") {
      node.mode = target.value;
      treeChanged();
      return;
    }
    if (role === "field") {
      var before = kindOf(node.field);
      node.field = target.value;
      if (kindOf(node.field) !== before) {
        Object.assign(node, { op: OPERATORS[kindOf(node.field)][0].id, value: "", value2: "", days: "" });
      }
      draw(target.id);
      treeChanged();
      return;
    }
    if (role === "op") {
      node.op = target.value;
      draw(target.id);
      treeChanged();
      return;
    }
    node[role === "segment" ? "value" : role] = target.value;
    treeChanged();
  }

  function setLocalError(node, message) {
    var shown = document.getElementById(node.id + "-json-error");
    var area = document.getElementById(node.id + "-json");
    if (!shown || !area) { return; }
    shown.textContent = message || "";
    shown.hidden = !message;
    if (message) {
      area.setAttribute("aria-invalid", "true");
      area.setAttribute("aria-describedby", node.id + "-about " + shown.id);
    } else {
      area.removeAttribute("aria-invalid");
      area.setAttribute("aria-describedby", node.id + "-about");
    }
  }

  function onClick(event) {
    var button = event.target.closest("button[data-action]");
    if (!button) { return; }
    var node = findNode(button.getAttribute("data-node"));
    if (!node) { return; }
    var action = button.getAttribute("data-action");
    var focus;
    if (action === "add-condition") {
      var condition = newCondition();
      node.children.push(condition);
      focus = condition.id + "-field";
    } else if (action === "add-group") {
      var group = newGroup("and", [newCondition()]);
      node.children.push(group);
      focus = group.id + "-mode";
    } else {
      var parent = findParent(node);
      if (!parent) { return; }
      parent.children.splice(parent.children.indexOf(node), 1);
      focus = parent.id + "-mode";
    }
    treeChanged();
    draw(focus);
  }

  // ---- start ----

  container.addEventListener("change", function (event) {
    if (event.target.tagName === "SELECT") { onControl(event); }
  });
  container.addEventListener("input", function (event) {
    if (event.target.tagName !== "SELECT") { onControl(event); }
  });
  container.addEventListener("click", onClick);
  textarea.addEventListener("input", textChanged);
  if (countButton) {
    countButton.addEventListener("click", function (event) {
      event.preventDefault();
      requestNumber++;
      count();
    });
  }

  if (rawProblems) { rawProblems.hidden = true; } // the builder marks them at their nodes
  var startText = textarea.value;
  var unreadable = null;
  if (startText.trim()) {
    try {
      root = readRule(JSON.parse(startText));
    } catch (error) {
      unreadable = jsonError.textContent.trim() || jsonProblem(error, startText);
    }
  }
  setJsonError(unreadable);
  writeNode(root, "");
  container.hidden = false;
  draw();
  if (initialProblems.length) {
    showProblems(initialProblems);
    say("No count until the rule's problems are fixed.");
  } else if (!unreadable) {
    count();
  }
})();
