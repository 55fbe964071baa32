// The Catalog view: a card per template the user may start or stop (GET jobs/catalog), each
// with a start form built from its variables or the reason it is locked, and a Stop button
// where the user may stop its jobs.

import { BASE, request } from "./api.js";
import { byId, h } from "./dom.js";
import { jobLink, modeBadge } from "./jobs-view.js";
import { clearErrors, placeErrors, VariableFields } from "./template-fields.js";

let cards = 0;

export class CatalogView {
  /** show(jobId, opener) opens the details of a job (the one a start made). */
  constructor({ show }) {
    this.show = show;
    this.session = 0;
    this.signature = null;
  }

  clear() {
    this.session += 1;
    this.signature = null;
    byId("catalog-list").replaceChildren();
    byId("catalog-status").textContent = "";
    byId("catalog-errors").hidden = true;
    byId("catalog-empty").hidden = true;
  }

  /** Read the catalog; the cards are rebuilt only when it changed (keeping what is typed). */
  async load() {
    const { session } = this;
    try {
      const catalog = await request("GET", `${BASE}/jobs/catalog`);
      const signature = JSON.stringify(catalog);
      if (session === this.session && signature !== this.signature) {
        this.signature = signature;
        this.render(catalog);
      }
    } catch (error) {
      if (session === this.session && error.status !== 401) {
        byId("catalog-status").textContent = `Could not read the catalog: ${error.message}`;
      }
    }
  }

  render(catalog) {
    byId("catalog-status").textContent = "";
    const roles = catalog.userRoles ?? [];
    byId("catalog-roles").textContent = roles.length ? `Your roles: ${roles.join(", ")}.` : "";
    byId("catalog-list").replaceChildren(...catalog.jobs.map((template) => this.card(template)));
    byId("catalog-empty").hidden = catalog.jobs.length > 0;
    const errors = catalog.errors ?? [];
    byId("catalog-errors").hidden = errors.length === 0;
    byId("catalog-error-list").replaceChildren(
      ...errors.map((failure) => h("li", {}, h("code", { text: failure.file }), `: ${failure.error}`)),
    );
  }

  card(template) {
    cards += 1;
    const titleId = `template-${cards}`;
    const result = h("p", { class: "start-result", role: "status" });
    const { canStart, canStop } = template.permissions;
    const stop = canStop ? this.stopButton(template, result) : null;
    return h(
      "article",
      { class: "card template", "aria-labelledby": titleId, dataset: { templateId: template.jobId } },
      h(
        "div",
        { class: "job-title" },
        h("h3", { id: titleId, class: "template-name", text: template.displayName }),
        modeBadge(template.executionMode),
        scheduleBadge(template.schedule),
      ),
      h("p", { class: "template-id" }, h("code", { text: template.jobId })),
      template.description ? h("p", { class: "job-desc", text: template.description }) : null,
      canStart ? this.startForm(template, result, stop) : lockedNote(template),
      canStart ? null : h("div", { class: "job-actions" }, stop),
      result,
    );
  }

  startForm(template, result, stop) {
    const fields = new VariableFields(template.templateVariables ?? []);
    const error = h("p", { class: "error", role: "alert" });
    const start = h("button", {
      type: "submit",
      class: "button primary",
      text: "Start",
      "aria-label": `Start: ${template.displayName}`,
    });
    const submit = (event) => {
      event.preventDefault();
      this.start(template, fields, { error, result, start });
    };
    return h(
      "form",
      { class: "start-form", novalidate: true, onsubmit: submit },
      fields.element,
      error,
      h("div", { class: "job-actions" }, start, stop),
    );
  }

  /** POST jobs/start; a 400 is shown beside the variable it names, a success opens the job. */
  async start(template, fields, { error, result, start }) {
    clearErrors(fields.slots, error);
    result.replaceChildren();
    start.disabled = true;
    try {
      const body = { jobId: template.jobId, variables: fields.values() };
      const answer = await request("POST", `${BASE}/jobs/start`, { body });
      result.replaceChildren("Started as job ", jobLink(answer.executionId, this.show), ".");
      start.disabled = false;
      this.show(answer.executionId, start);
    } catch (failure) {
      start.disabled = false;
      placeErrors(failure.message, fields.slots, error);
    }
  }

  stopButton(template, result) {
    return h("button", {
      type: "button",
      class: "button danger",
      text: "Stop",
      "aria-label": `Stop its jobs: ${template.displayName}`,
      onclick: (event) => this.stop(template, event.currentTarget, result),
    });
  }

  /** POST jobs/stop: the user's running jobs of the template (or everyone's, if allowed). */
  async stop(template, button, result) {
    button.disabled = true;
    try {
      const answer = await request("POST", `${BASE}/jobs/stop`, { body: { jobId: template.jobId } });
      const count = answer.stopped?.length ?? 0;
      result.textContent = count
        ? `Stopping ${count} running job${count === 1 ? "" : "s"}.`
        : "No running job of this template to stop.";
    } catch (failure) {
      result.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  }
}

function scheduleBadge(cron) {
  if (!cron) return null;
  return h("span", { class: "badge schedule-badge", title: "Also runs on this schedule", text: cron });
}

/** Why a template the user can see may not be started by them. */
function lockedNote(template) {
  const roles = template.roles?.start ?? [];
  const why = roles.length ? `requires role ${roles.join(" or ")}` : "no role may start it";
  return h(
    "p",
    { class: "locked" },
    h("span", { class: "badge locked-badge", text: "Locked" }),
    ` Starting it ${why}.`,
  );
}
