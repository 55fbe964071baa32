// Input fields for a template's variables (the catalog's start forms and the schedule form),
// with the template's rules as client-side hints, and a server's 400 message placed beside
// the field it names. The hints only help: the server checks every value again.

import { h } from "./dom.js";

let fieldSets = 0;

export class VariableFields {
  /** variables: a catalog item's templateVariables. */
  constructor(variables) {
    fieldSets += 1;
    this.slots = new Map(); // variable name → {input, error}
    const prefix = `variable-${fieldSets}`;
    this.element = h(
      "div",
      { class: "variable-grid" },
      variables.map((variable, index) => this.field(variable, `${prefix}-${index}`)),
    );
  }

  field(variable, id) {
    const input = variable.choices?.length ? choiceInput(variable) : textInput(variable);
    const hint = hintText(variable);
    Object.assign(input, { id, name: variable.name, required: Boolean(variable.required) });
    input.setAttribute("aria-describedby", [hint ? `${id}-hint` : "", `${id}-error`].join(" ").trim());
    const error = h("small", { id: `${id}-error`, class: "error field-error" });
    this.slots.set(variable.name, { input, error });
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, variable.name, variable.required ? null : h("small", { text: " (optional)" })),
      input,
      hint ? h("small", { id: `${id}-hint`, class: "hint", text: hint }) : null,
      error,
    );
  }

  /** The values entered; an empty field is left out, so the template's default applies. */
  values() {
    const values = {};
    for (const [name, { input }] of this.slots) {
      if (input.value !== "") values[name] = input.value;
    }
    return values;
  }
}

function textInput(variable) {
  const input = h("input", { autocomplete: "off", spellcheck: "false", value: variable.default ?? "" });
  if (variable.pattern) hintPattern(input, variable.pattern);
  return input;
}

function choiceInput(variable) {
  const options = variable.choices.map((choice) =>
    h("option", { value: choice, text: choice, selected: choice === variable.default }),
  );
  if (variable.default === null || variable.default === undefined) {
    options.unshift(h("option", { value: "", text: variable.required ? "Choose…" : "—" }));
  }
  return h("select", {}, options);
}

function hintText(variable) {
  const parts = [variable.description, variable.pattern ? `Format: ${variable.pattern}` : ""];
  return parts.filter(Boolean).join(" · ");
}

/**
 * The pattern as the input's own pattern attribute where the browser's regex syntax (the v
 * flag) takes it; else a check of our own with the u flag; a pattern neither takes (some
 * Python-only syntax) is left to the server.
 */
function hintPattern(input, pattern) {
  if (compiles(pattern, "v")) {
    input.pattern = pattern;
    return;
  }
  if (!compiles(pattern, "u")) return;
  const whole = new RegExp(`^(?:${pattern})$`, "u");
  const check = () =>
    input.setCustomValidity(input.value === "" || whole.test(input.value) ? "" : `Must match ${pattern}`);
  input.addEventListener("input", check);
  check();
}

function compiles(pattern, flag) {
  try {
    new RegExp(`^(?:${pattern})$`, flag);
    return true;
  } catch {
    return false;
  }
}

/** Empty every error of a form: the fields' and the form's own. */
export function clearErrors(slots, formError) {
  for (const { input, error } of slots.values()) {
    error.textContent = "";
    input.removeAttribute("aria-invalid");
  }
  formError.textContent = "";
}

/**
 * Show a server's error message (after clearErrors): each "; "-separated part that names a
 * field goes beside that field (which is marked invalid; the first one gets the focus unless
 * focus is false), the rest at the form.
 */
export function placeErrors(message, slots, formError, focus = true) {
  const rest = [];
  let first = null;
  for (const part of message.split(/;\s+/)) {
    const name = namedField(part, [...slots.keys()]);
    if (name === undefined) {
      rest.push(part);
      continue;
    }
    const { input, error } = slots.get(name);
    error.textContent = error.textContent ? `${error.textContent}; ${part}` : part;
    input.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  if (rest.length) formError.textContent = rest.join("; "); // formError may be a field's too
  if (focus) first?.focus();
}

/**
 * The field an error text is about: one it names as "for path: …" or "…: path", else one
 * whose name appears in it as a word ("Invalid cron expression").
 */
function namedField(text, names) {
  const word = (name) => `['"\`]?${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}['"\`]?`;
  const strict = (name) => new RegExp(`(^|[\\s(])${word(name)}:|:\\s*${word(name)}($|[\\s,.;)])`);
  const loose = (name) => new RegExp(`(^|[^\\w])${word(name)}($|[^\\w])`);
  return names.find((name) => strict(name).test(text)) ?? names.find((name) => loose(name).test(text));
}
