// The form that creates a schedule (POST schedules): what it runs (a template with its
// variables or, for who may submit, a command), when (cron and time zone, the next five
// firings previewed from schedules/preview while they are typed) and what a firing does while
// the previous run is still going. The server's 400s are shown beside the field they name.

import { BASE, request } from "./api.js";
import { byId, h, zonedTimeElement } from "./dom.js";
import { clearErrors, placeErrors, VariableFields } from "./template-fields.js";

const PREVIEW_DELAY_MS = 300;
// Body field → its input's id after "schedule-" (its error's id adds "-error").
const FIELDS = {
  name: "name",
  jobName: "name",
  cron: "cron",
  timezone: "timezone",
  overlap: "overlap",
  templateId: "template",
  executionMode: "mode",
  command: "command",
};

export class ScheduleForm {
  /** created(name) is called once the server has accepted a new schedule. */
  constructor(created) {
    this.created = created;
    this.templates = [];
    this.modes = [];
    this.variables = new VariableFields([]);
    this.previews = 0;
    byId("schedule-form").addEventListener("submit", (event) => this.submit(event));
    for (const id of ["schedule-cron", "schedule-timezone"]) {
      byId(id).addEventListener("input", () => this.previewSoon());
    }
    for (const radio of byId("schedule-form").elements.kind) {
      radio.addEventListener("change", () => {
        this.kindChosen = true;
        this.showKind();
      });
    }
    byId("schedule-template").addEventListener("change", () => this.showVariables());
    const zones = Intl.supportedValuesOf?.("timeZone") ?? [];
    const choices = [...new Set(["UTC", ...zones])].map((zone) => h("option", { value: zone }));
    byId("schedule-zones").replaceChildren(...choices);
  }

  /** modes: the execution modes this user may submit commands in (none: templates only). */
  setUp(modes) {
    this.modes = modes;
    this.templates = [];
    this.kindChosen = false;
    byId("schedule-create").open = false;
    byId("schedule-mode").replaceChildren(...modes.map((mode) => h("option", { value: mode, text: mode })));
    byId("schedule-timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    this.offerTemplates([]);
    this.reset();
  }

  /** The catalog's items: those the user may start can be scheduled. */
  offerTemplates(items) {
    const startable = items.filter((item) => item.permissions.canStart);
    const ids = (list) => JSON.stringify(list.map((item) => [item.jobId, item.templateVariables]));
    if (ids(startable) === ids(this.templates) && byId("schedule-template").options.length) return;
    this.templates = startable;
    const chosen = byId("schedule-template").value;
    const options = startable.map((item) => {
      const text = `${item.displayName} (${item.jobId})`;
      return h("option", { value: item.jobId, selected: item.jobId === chosen, text });
    });
    byId("schedule-template").replaceChildren(...options);
    const kinds = { template: startable.length > 0, command: this.modes.length > 0 };
    for (const radio of byId("schedule-form").elements.kind) radio.disabled = !kinds[radio.value];
    byId("schedule-kind").hidden = !(kinds.template && kinds.command);
    if (!kinds[this.kind()] || !this.kindChosen) {
      byId(`schedule-kind-${kinds.template ? "template" : "command"}`).checked = true;
    }
    byId("schedule-create").hidden = !kinds.template && !kinds.command;
    this.showKind();
    this.showVariables();
  }

  kind() {
    return byId("schedule-form").elements.kind.value;
  }

  showKind() {
    const template = this.kind() === "template";
    byId("schedule-template-fields").hidden = !template;
    byId("schedule-command-fields").hidden = template;
  }

  showVariables() {
    const item = this.templates.find((template) => template.jobId === byId("schedule-template").value);
    this.variables = new VariableFields(item?.templateVariables ?? []);
    byId("schedule-variables").replaceChildren(this.variables.element);
  }

  reset() {
    for (const id of ["schedule-name", "schedule-cron", "schedule-command"]) byId(id).value = "";
    clearErrors(this.slots(), byId("schedule-error"));
    this.showVariables();
    this.previewSoon();
  }

  /** Where each body field's error goes: the template's variables first, then the fields. */
  slots(fields = Object.keys(FIELDS), withVariables = true) {
    const slots = new Map(withVariables && this.kind() === "template" ? this.variables.slots : []);
    for (const field of fields.filter((name) => !slots.has(name))) {
      const id = `schedule-${FIELDS[field]}`;
      slots.set(field, { input: byId(id), error: byId(`${id}-error`) });
    }
    return slots;
  }

  previewSoon() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.preview(), PREVIEW_DELAY_MS);
  }

  /** The next five firings (GET schedules/preview), or the server's word on what is wrong. */
  async preview() {
    this.previews += 1;
    const asked = this.previews;
    const cron = byId("schedule-cron").value.trim();
    const timezone = byId("schedule-timezone").value.trim() || "UTC";
    const slots = this.slots(["cron", "timezone"], false);
    const list = byId("schedule-preview");
    const note = byId("schedule-preview-note");
    if (!cron) {
      clearErrors(slots, byId("schedule-cron-error"));
      list.replaceChildren();
      note.textContent = "Type a cron expression to see when it would run.";
      return;
    }
    try {
      const answer = await request("GET", `${BASE}/schedules/preview`, { query: { cron, timezone } });
      if (asked !== this.previews) return;
      clearErrors(slots, byId("schedule-cron-error"));
      list.replaceChildren(...answer.nextRuns.map((iso) => h("li", {}, zonedTimeElement(iso, timezone))));
      note.textContent = `Times as clocks read them in ${timezone}.`;
    } catch (failure) {
      if (asked !== this.previews) return;
      clearErrors(slots, byId("schedule-cron-error"));
      list.replaceChildren();
      note.textContent = "";
      placeErrors(failure.message, slots, byId("schedule-cron-error"), false);
    }
  }

  body() {
    const value = (id) => byId(`schedule-${id}`).value;
    const body = {
      name: value("name").trim(),
      cron: value("cron").trim(),
      timezone: value("timezone").trim() || "UTC",
      overlap: value("overlap"),
    };
    if (this.kind() === "template") {
      Object.assign(body, { templateId: value("template"), variables: this.variables.values() });
    } else {
      Object.assign(body, { jobName: body.name, command: value("command") });
      body.executionMode = value("mode");
    }
    return body;
  }

  async submit(event) {
    event.preventDefault();
    const slots = this.slots();
    const error = byId("schedule-error");
    clearErrors(slots, error);
    const button = event.submitter ?? byId("schedule-form").querySelector('button[type="submit"]');
    const body = this.body();
    button.disabled = true;
    try {
      await request("POST", `${BASE}/schedules`, { body });
      this.reset();
      this.created(body.name);
    } catch (failure) {
      placeErrors(failure.message, slots, error);
    } finally {
      button.disabled = false;
    }
  }
}
